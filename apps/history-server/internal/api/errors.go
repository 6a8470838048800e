package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
)

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error string `json:"error"`
}

// Error is an HTTP-level failure with the status and the message shown
// to the client. Err, if set, is logged but not shown.
type Error struct {
	Status int
	Msg    string
	Err    error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// retryAfterSeconds is suggested to clients on 503.
const retryAfterSeconds = "5"

// classify is the one place where errors become status codes and
// client-facing messages.
func classify(c echo.Context, err error) (status int, msg string) {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Status, e.Msg
	}
	if e, ok := errors.AsType[*prices.DayError](err); ok {
		return http.StatusBadRequest, e.Error()
	}
	if e, ok := errors.AsType[*prices.ValidationError](err); ok {
		if e.Kind == prices.KindSemantic {
			return http.StatusUnprocessableEntity, e.Error()
		}
		return http.StatusBadRequest, e.Error()
	}
	if errors.Is(err, prices.ErrNotFound) {
		day := c.QueryParam("day")
		return http.StatusNotFound, fmt.Sprintf("no prices stored for day %s", day)
	}
	if errors.Is(err, prices.ErrUnavailable) {
		return http.StatusServiceUnavailable, "price storage (MinIO) is unavailable; retry later"
	}
	if he, ok := errors.AsType[*echo.HTTPError](err); ok {
		req := c.Request()
		switch he.Code {
		case http.StatusNotFound:
			return he.Code, fmt.Sprintf("no route for %s %s; see /openapi.yaml", req.Method, req.URL.Path)
		case http.StatusMethodNotAllowed:
			allow := c.Response().Header().Get(echo.HeaderAllow)
			if allow == "" {
				if v, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok {
					allow = v
				}
			}
			return he.Code, fmt.Sprintf("method %s is not allowed on %s; allowed: %s", req.Method, req.URL.Path, allow)
		}
		if m, ok := he.Message.(string); ok && m != "" {
			return he.Code, m
		}
		return he.Code, strings.ToLower(http.StatusText(he.Code))
	}
	return http.StatusInternalServerError, "internal server error; the request ID is in the X-Request-ID header"
}

// handleError is Echo's HTTPErrorHandler: a JSON {"error": ...} body for
// every failure, Retry-After on 503, and the detail kept for the request
// log.
func (h *Handlers) handleError(err error, c echo.Context) {
	status, msg := classify(c, err)
	c.Set(ctxError, err.Error())
	if c.Response().Committed {
		return
	}
	if status == http.StatusServiceUnavailable {
		c.Response().Header().Set("Retry-After", retryAfterSeconds)
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, ErrorBody{Error: msg})
	}
	if err != nil {
		h.log.Warn("writing error response failed", "request_id", requestID(c), "error", err.Error())
	}
}
