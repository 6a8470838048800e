package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The lab reads method, path, host and headers from the answer.
func TestEchoesTheRequest(t *testing.T) {
	srv := httptest.NewServer(handler("pod-1"))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/some/path?a=1", nil)
	req.Host = "echoserver.default.svc.cluster.local"
	req.Header.Set("X-Lab", "5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got reply
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.HTTP.Method != http.MethodPut || got.HTTP.OriginalURL != "/some/path?a=1" || got.Request.Params["0"] != "/some/path" {
		t.Errorf("method/path not echoed: %+v", got.HTTP)
	}
	if got.Host.Hostname != "echoserver.default.svc.cluster.local" || got.Request.Headers["Host"] != got.Host.Hostname {
		t.Errorf("host not echoed: %+v", got.Host)
	}
	if got.Request.Headers["X-Lab"] != "5" || got.Request.Query["a"][0] != "1" || got.Environment.Hostname != "pod-1" {
		t.Errorf("headers/query/hostname not echoed: %+v", got.Request)
	}
}
