package main

import (
	"fmt"
	"log"
	"net/http"
	"time"
)

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprint(w, "slow done")
	})
	return mux
}

func main() {
	log.Fatal(http.ListenAndServe(":8080", newMux()))
}
