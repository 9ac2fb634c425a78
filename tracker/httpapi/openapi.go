package httpapi

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the OpenAPI 3.1 document of every route the daemon serves,
// /webhooks/{name} included, as served at GET /openapi.yaml. The tests of
// this package check every request they make, and every answer, against
// it.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPI serves GET /openapi.yaml.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(OpenAPI)
}
