package prices

import "errors"

// CorruptError is a stored object that is not valid JSON, so not written
// by this server.
type CorruptError struct {
	Key string // the object's key
}

func (e *CorruptError) Error() string { return "object " + e.Key + ": invalid JSON" }

// Errors a price store reports. Stores wrap them with detail
// (fmt.Errorf("%w: ...")); callers test with errors.Is.
var (
	// ErrNotFound: no prices are stored for the requested day.
	ErrNotFound = errors.New("no prices stored for that day")
	// ErrUnavailable: the storage backend cannot be reached or did not
	// answer in time. Retrying later may succeed.
	ErrUnavailable = errors.New("price storage unavailable")
)
