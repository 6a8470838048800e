package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	spec "github.com/lab5/k8s-networking/api"
	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
)

// StoredSummary is the body of a 201 answer to a POST.
type StoredSummary struct {
	Day     string `json:"day"`
	Records int    `json:"records"`
	Object  string `json:"object"`
}

// Status is the body of /healthz and /readyz when they succeed.
type Status struct {
	Status string `json:"status"`
}

// getPrices answers GET /api/prices/?day=D with the stored array.
func (h *Handlers) getPrices(c echo.Context) error {
	day, err := dayParam(c)
	if err != nil {
		return err
	}
	data, err := h.store.Get(c.Request().Context(), day)
	if ce, ok := errors.AsType[*prices.CorruptError](err); ok {
		// Not written by this server (it only stores validated arrays).
		return &Error{Status: http.StatusInternalServerError,
			Msg: fmt.Sprintf("the stored object for day %s is not valid JSON; POST the day again to replace it", day),
			Err: ce}
	}
	if err != nil {
		return err
	}
	// Declared up front: net/http would otherwise send a body over 2 KiB
	// (a day of 24 hourly prices already is one) with chunked encoding.
	c.Response().Header().Set(echo.HeaderContentLength, strconv.Itoa(len(data)))
	return c.JSONBlob(http.StatusOK, data)
}

// postPrices answers POST /api/prices/?day=D: validate everything, then
// store the canonical encoding in one Put.
func (h *Handlers) postPrices(c echo.Context) error {
	day, err := dayParam(c)
	if err != nil {
		return err
	}
	if err := checkContentType(c.Request().Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	body, err := h.readBody(c)
	if err != nil {
		return err
	}
	records, err := prices.Decode(body)
	if err != nil {
		return err
	}
	canonical, err := prices.Encode(records)
	if err != nil {
		return fmt.Errorf("encode records: %w", err)
	}
	key, err := h.store.Put(c.Request().Context(), day, canonical)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/prices/?day="+url.QueryEscape(day.String()))
	return c.JSON(http.StatusCreated, StoredSummary{Day: day.String(), Records: len(records), Object: key})
}

func (h *Handlers) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, Status{Status: "ok"})
}

func (h *Handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), h.readyTimeout)
	defer cancel()
	if err := h.store.Ready(ctx); err != nil {
		if errors.Is(err, prices.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
			return &Error{Status: http.StatusServiceUnavailable, Msg: "not ready: price storage (MinIO) is unavailable", Err: err}
		}
		return &Error{Status: http.StatusServiceUnavailable, Msg: "not ready: price storage check failed", Err: err}
	}
	return c.JSON(http.StatusOK, Status{Status: "ready"})
}

func (h *Handlers) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml", spec.OpenAPI)
}

// dayParam reads the single ?day= query parameter.
func dayParam(c echo.Context) (prices.Day, error) {
	values := c.QueryParams()["day"]
	if len(values) > 1 {
		return prices.Day{}, &Error{Status: http.StatusBadRequest, Msg: "day: give the day query parameter once"}
	}
	var v string
	if len(values) == 1 {
		v = values[0]
	}
	return prices.ParseDay(v)
}

// checkContentType accepts no Content-Type at all, or application/json
// with at most a utf-8 charset.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == echo.MIMEApplicationJSON {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	shown := ct
	if len(shown) > 60 {
		shown = shown[:60] + "…"
	}
	return &Error{Status: http.StatusUnsupportedMediaType,
		Msg: fmt.Sprintf("Content-Type %q is not supported: send the body as application/json (UTF-8)", shown)}
}

// readBody reads at most maxBody bytes; more is a 413.
func (h *Handlers) readBody(c echo.Context) ([]byte, error) {
	req := c.Request()
	tooLarge := &Error{Status: http.StatusRequestEntityTooLarge,
		Msg: fmt.Sprintf("request body is larger than the limit of %d bytes (1 MiB); send one day's prices per request", h.maxBody)}
	if req.ContentLength > h.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, h.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, &Error{Status: http.StatusBadRequest, Msg: "could not read the request body", Err: err}
	}
	return body, nil
}
