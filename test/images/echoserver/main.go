// Command echoserver answers every HTTP request with a JSON description of
// it (host, method, path, query, headers, the serving host's name), the way
// the lab's ealen/echo-server image does, for the local real node where
// that image cannot be pulled. It listens on $PORT (default 80).
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
	"time"
)

// reply mirrors the fields of ealen/echo-server's answer that the lab's
// curl checks read.
type reply struct {
	Host struct {
		Hostname string `json:"hostname"`
		IP       string `json:"ip"`
	} `json:"host"`
	HTTP struct {
		Method      string `json:"method"`
		BaseURL     string `json:"baseUrl"`
		OriginalURL string `json:"originalUrl"`
		Protocol    string `json:"protocol"`
	} `json:"http"`
	Request struct {
		Params  map[string]string   `json:"params"`
		Query   map[string][]string `json:"query"`
		Headers map[string]string   `json:"headers"`
	} `json:"request"`
	Environment struct {
		Hostname string `json:"HOSTNAME"`
	} `json:"environment"`
}

func handler(hostname string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var out reply
		out.Host.Hostname = r.Host
		out.Host.IP = r.RemoteAddr
		out.HTTP.Method = r.Method
		out.HTTP.OriginalURL = r.URL.RequestURI()
		out.HTTP.Protocol = "http"
		out.Request.Params = map[string]string{"0": r.URL.Path}
		out.Request.Query = r.URL.Query()
		out.Request.Headers = map[string]string{}
		for k, v := range r.Header {
			if len(v) > 0 {
				out.Request.Headers[http.CanonicalHeaderKey(k)] = v[0]
			}
		}
		out.Request.Headers["Host"] = r.Host
		out.Environment.Hostname = hostname
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(out)
	}
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "80"
	}
	hostname, _ := os.Hostname()
	srv := &http.Server{
		Addr:              ":" + port,
		Handler:           handler(hostname),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("echoserver listening on :%s", port)
	log.Fatal(srv.ListenAndServe())
}
