package api_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	spec "github.com/lab5/k8s-networking/api"
	"github.com/lab5/k8s-networking/apps/history-server/internal/pricetest"
)

func specRouter(t *testing.T) routers.Router {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(spec.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// exchange is one request sent to the handler, checked against the spec.
type exchange struct {
	name        string
	method      string
	target      string
	contentType string
	body        []byte
	chunked     bool
	status      int
	// requestValid: what the spec alone says about the request.
	requestValid bool
}

// validate sends ex to the handler and checks the request and the real
// response against the OpenAPI document. Undocumented status codes fail.
func validate(t *testing.T, router routers.Router, h *harness, ex exchange) {
	t.Helper()
	rec := h.do(request(ex.method, ex.target, ex.contentType, ex.body, ex.chunked))
	if rec.Code != ex.status {
		t.Fatalf("status %d, want %d; body %s", rec.Code, ex.status, rec.Body)
	}

	// A second copy of the request for the validator (the handler consumed the first).
	req := request(ex.method, "http://history-server"+ex.target, ex.contentType, ex.body, ex.chunked)
	route, pathParams, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("spec has no route for %s %s: %v", ex.method, ex.target, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: opts}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case ex.requestValid && reqErr != nil:
		t.Errorf("spec rejects a request the test marks valid: %v", reqErr)
	case !ex.requestValid && reqErr == nil:
		t.Errorf("spec accepts a request the test says it rejects")
	}

	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 rec.Code,
		Header:                 rec.Header(),
		Body:                   io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Options:                opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Fatalf("response %d %s does not match the spec: %v", rec.Code, truncate(rec.Body.String()), err)
	}
}

func truncate(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// Real responses of the handler, for success and every error the spec
// documents, match api/openapi.yaml; and the spec agrees with the server
// about which requests are invalid wherever a schema can express it.
func TestResponsesMatchOpenAPI(t *testing.T) {
	router := specRouter(t)
	h := newHarness(t)
	sample := []byte(pricetest.SampleBody)
	json := "application/json"

	ordered := []exchange{
		{"GET 404 before storing", http.MethodGet, "/api/prices/?day=2024-10-01", "", nil, false, http.StatusNotFound, true},
		{"POST 201", http.MethodPost, "/api/prices/?day=2024-10-01", json, sample, false, http.StatusCreated, true},
		{"POST 201 no slash", http.MethodPost, "/api/prices?day=2024-10-02", json, pricetest.Body("2024-10-02", 24, 3), false, http.StatusCreated, true},
		{"POST 201 no content type", http.MethodPost, "/api/prices?day=2024-10-03", "", sample, false, http.StatusCreated, false},
		{"GET 200", http.MethodGet, "/api/prices/?day=2024-10-01", "", nil, false, http.StatusOK, true},
		{"GET 200 no slash", http.MethodGet, "/api/prices?day=2024-10-02", "", nil, false, http.StatusOK, true},
		{"GET 400", http.MethodGet, "/api/prices/?day=2024-1-1", "", nil, false, http.StatusBadRequest, false},
		{"healthz", http.MethodGet, "/healthz", "", nil, false, http.StatusOK, true},
		{"readyz", http.MethodGet, "/readyz", "", nil, false, http.StatusOK, true},
		{"openapi", http.MethodGet, "/openapi.yaml", "", nil, false, http.StatusOK, true},
	}
	for _, ex := range ordered {
		t.Run(ex.name, func(t *testing.T) { validate(t, router, h, ex) })
	}

	for _, c := range pricetest.BadPosts() {
		for _, p := range pricePaths {
			ex := exchange{c.Name, http.MethodPost, p + "?" + c.Query, c.ContentType, c.Body, c.Chunked, c.Status, !c.SpecRejects}
			t.Run(p+"/"+c.Name, func(t *testing.T) { validate(t, router, h, ex) })
		}
	}

	h.store.SetUnavailable(true)
	for _, ex := range []exchange{
		{"GET 503", http.MethodGet, "/api/prices/?day=2024-10-01", "", nil, false, http.StatusServiceUnavailable, true},
		{"POST 503", http.MethodPost, "/api/prices?day=2024-10-01", json, sample, false, http.StatusServiceUnavailable, true},
		{"readyz 503", http.MethodGet, "/readyz", "", nil, false, http.StatusServiceUnavailable, true},
	} {
		t.Run(ex.name, func(t *testing.T) { validate(t, router, h, ex) })
	}
}

// Unknown routes and methods are outside the spec; they still use the
// documented error shape.
func TestRoutesOutsideTheSpecUseTheErrorShape(t *testing.T) {
	router := specRouter(t)
	h := newHarness(t)
	for _, r := range []struct{ method, target string }{
		{http.MethodGet, "/nope"},
		{http.MethodDelete, "/api/prices/?day=2024-10-01"},
	} {
		req := httptest.NewRequest(r.method, "http://history-server"+r.target, nil)
		if _, _, err := router.FindRoute(req); err == nil {
			t.Fatalf("%s %s is in the spec; this test is about routes that are not", r.method, r.target)
		}
		errorBody(t, h.do(httptest.NewRequest(r.method, r.target, nil)))
	}
}
