// Tests of your own code against `meshvm fake`, with Go's standard
// library only: one fake per test, on a free port, read from its ready
// file.  Run: MESHVM_BIN=$PWD/build/meshvm go test ./...
package fakeexample

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startFake(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("MESHVM_BIN")
	if bin == "" {
		bin = "meshvm"
	}
	ready := filepath.Join(t.TempDir(), "url")
	cmd := exec.Command(bin, "fake", "--no-auth", "--op-polls", "1",
		"--ready-file", ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile(ready); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the fake did not start")
	return ""
}

func call(t *testing.T, method, url, body string) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %v", method, url, resp.StatusCode, out)
	}
	return out
}

func TestClusterLifecycle(t *testing.T) {
	u := startFake(t)
	loc := u + "/v1/projects/demo/locations/us-central1-a"
	op := call(t, "POST", loc+"/clusters",
		`{"cluster":{"name":"c1","initialNodeCount":1}}`)
	done := call(t, "GET", loc+"/operations/"+op["name"].(string), "")
	if done["status"] != "DONE" {
		t.Fatalf("operation %v", done)
	}
	cl := call(t, "GET", loc+"/clusters/c1", "")
	if cl["status"] != "RUNNING" || cl["endpoint"] == "" {
		t.Fatalf("cluster %v", cl)
	}
	// what the fake holds, for assertions on the end state
	state := call(t, "GET", u+"/_fake/state", "")
	if _, ok := state["clusters"].(map[string]any)["demo/us-central1-a/c1"]; !ok {
		t.Fatalf("state %v", state["clusters"])
	}
}
