// Command elering-fixture serves Elering's NPS price endpoint
// (GET /api/nps/price?start=&end=) inside the real-node cluster, where the
// real Elering is unreachable by design. Prices come from
// apps/price-fetcher/eleringtest's generator, so a test knows what
// price-fetcher must have stored. It listens on :8080.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"time"

	"github.com/lab5/k8s-networking/apps/price-fetcher/eleringtest"
)

type point struct {
	Timestamp int64   `json:"timestamp"`
	Price     float64 `json:"price"`
}

func parse(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Parse(time.RFC3339, s)
}

func serve(w http.ResponseWriter, r *http.Request) {
	start, err1 := parse(r.URL.Query().Get("start"))
	end, err2 := parse(r.URL.Query().Get("end"))
	if r.URL.Path != eleringtest.Path || err1 != nil || err2 != nil || end.Before(start) {
		http.Error(w, `{"success":false,"data":null}`, http.StatusBadRequest)
		return
	}
	// Every interval from start up to and including the one at end, at
	// Elering's resolution for that instant.
	var ee []point
	for t := start; !t.After(end); t = t.Add(eleringtest.Resolution(t)) {
		ee = append(ee, point{t.Unix(), eleringtest.Price(t.Unix())})
	}
	log.Printf("%s %s: %d prices", r.Method, r.URL.RequestURI(), len(ee))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "data": map[string][]point{"ee": ee, "fi": {}, "lv": ee, "lt": ee}})
}

func main() {
	http.HandleFunc("/", serve)
	srv := &http.Server{Addr: ":8080", ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.ListenAndServe())
}
