// Observation helpers for Go (package clause added by the verifier). The scenario's
// observation file defines llmbenchObservations(), which calls llmbenchObs once per
// expected key; the values are printed as JSON lines and compared on the host.

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"
)

var llmbenchStdout = os.Stdout

// llmbenchObs records what f returns under key; a panic is recorded as an error.
func llmbenchObs(key string, f func() any) {
	defer func() {
		if r := recover(); r != nil {
			llmbenchEmit(map[string]any{"key": key, "error": fmt.Sprint("panic: ", r)})
		}
	}()
	v := f()
	llmbenchEmit(map[string]any{"key": key, "value": v})
}

func llmbenchEmit(m map[string]any) {
	b, err := json.Marshal(m)
	if err != nil {
		b, _ = json.Marshal(map[string]any{"key": m["key"], "error": "unencodable value: " + err.Error()})
	}
	llmbenchStdout.Write(append(append([]byte("\n"), b...), '\n'))
}

func TestMain(m *testing.M) {
	llmbenchObservations()
	os.Exit(0)
}
