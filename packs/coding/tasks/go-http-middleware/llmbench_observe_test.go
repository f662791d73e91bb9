package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

type llmbenchSyncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *llmbenchSyncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *llmbenchSyncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var llmbenchPort = 20000

func llmbenchGet(h http.Handler, path, ip string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", path, nil)
	llmbenchPort++
	req.RemoteAddr = fmt.Sprintf("%s:%d", ip, llmbenchPort)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func llmbenchErr(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

func llmbenchObservations() {
	llmbenchObs("hello", func() any {
		h := NewHandler(log.New(io.Discard, "", 0))
		rec := llmbenchGet(h, "/hello", "10.0.0.1")
		return []any{rec.Code, rec.Body.String()}
	})

	buf := &llmbenchSyncBuf{}
	llmbenchObs("logging/served", func() any {
		h := NewHandler(log.New(buf, "", 0))
		llmbenchGet(h, "/hello", "10.0.0.2")
		llmbenchGet(h, "/missing", "10.0.0.2")
		first := buf.String()
		for i := 0; i < 10; i++ {
			llmbenchGet(h, "/hello", "10.0.0.2")
		}
		return first
	})
	llmbenchObs("logging/rejected", func() any { return buf.String() })

	llmbenchObs("rate_limit_per_ip", func() any {
		h := NewHandler(log.New(io.Discard, "", 0))
		codes := []int{}
		for i := 0; i < 11; i++ {
			codes = append(codes, llmbenchGet(h, "/hello", "1.2.3.4").Code)
		}
		return append(codes, llmbenchGet(h, "/hello", "5.6.7.8").Code)
	})

	llmbenchObs("rate_limit_refills", func() any {
		h := NewHandler(log.New(io.Discard, "", 0))
		for i := 0; i < 12; i++ {
			llmbenchGet(h, "/hello", "9.9.9.9")
		}
		time.Sleep(250 * time.Millisecond)
		return llmbenchGet(h, "/hello", "9.9.9.9").Code
	})

	// Graceful shutdown: an in-flight request finishes, Run returns nil, the port closes.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "127.0.0.1:0", log.New(io.Discard, "", 0), ready) }()
	addr := ""
	select {
	case addr = <-ready:
	case <-time.After(3 * time.Second):
	}
	llmbenchObs("graceful_shutdown/reports address", func() any { return addr != "" })
	type result struct {
		Code int
		Body string
		Err  any
	}
	res := make(chan result, 1)
	go func() {
		if addr == "" {
			res <- result{Err: "no address"}
			return
		}
		r, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			res <- result{Err: err.Error()}
			return
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		res <- result{Code: r.StatusCode, Body: string(b)}
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	llmbenchObs("graceful_shutdown/in-flight request", func() any {
		select {
		case r := <-res:
			return []any{r.Code, r.Body, r.Err}
		case <-time.After(3 * time.Second):
			return "never finished"
		}
	})
	llmbenchObs("graceful_shutdown/Run returns", func() any {
		select {
		case err := <-done:
			return []any{"returned", llmbenchErr(err)}
		case <-time.After(3 * time.Second):
			return "did not return"
		}
	})
	llmbenchObs("graceful_shutdown/closed afterwards", func() any {
		if addr == "" {
			return "no address"
		}
		_, err := http.Get("http://" + addr + "/hello")
		return err != nil
	})
}
