package prices

import "errors"

// Errors a price store reports. Stores wrap them with detail
// (fmt.Errorf("%w: ...")); callers test with errors.Is.
var (
	// ErrNotFound: no prices are stored for the requested day.
	ErrNotFound = errors.New("no prices stored for that day")
	// ErrUnavailable: the storage backend cannot be reached or did not
	// answer in time. Retrying later may succeed.
	ErrUnavailable = errors.New("price storage unavailable")
)
