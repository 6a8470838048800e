package api

import (
	"context"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The embedded document loads and is a valid OpenAPI 3 document,
// including its examples.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml is invalid: %v", err)
	}
	for _, p := range []string{"/api/prices/", "/api/prices"} {
		item := doc.Paths.Find(p)
		if item == nil || item.Get == nil || item.Post == nil {
			t.Errorf("%s must define GET and POST", p)
		}
	}
}
