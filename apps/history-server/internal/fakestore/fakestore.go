// Package fakestore is a test double: an in-memory price store with the same behaviour
// and errors as the MinIO store. Handler tests use it; it can also be
// told to fail, to exercise the "storage unavailable" paths.
package fakestore

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"sync"

	"github.com/lab5/k8s-networking/apps/history-server/internal/prices"
)

// Store keeps objects in a map. The zero value is not usable; call New.
type Store struct {
	mu          sync.Mutex
	objects     map[string][]byte
	unavailable bool
	puts        int
}

// New returns an empty, available store.
func New() *Store { return &Store{objects: map[string][]byte{}} }

// SetUnavailable makes every call fail with prices.ErrUnavailable (true)
// or work again (false).
func (s *Store) SetUnavailable(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavailable = down
}

// Get returns a copy of the day's object.
func (s *Store) Get(_ context.Context, day prices.Day) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable {
		return nil, fmt.Errorf("%w: fakestore is down", prices.ErrUnavailable)
	}
	b, ok := s.objects[day.ObjectKey()]
	if !ok {
		return nil, fmt.Errorf("%w: %s", prices.ErrNotFound, day)
	}
	if !json.Valid(b) {
		return nil, &prices.CorruptError{Key: day.ObjectKey()}
	}
	return append([]byte(nil), b...), nil
}

// Put replaces the day's object with a copy of body.
func (s *Store) Put(_ context.Context, day prices.Day, body []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable {
		return "", fmt.Errorf("%w: fakestore is down", prices.ErrUnavailable)
	}
	s.objects[day.ObjectKey()] = append([]byte(nil), body...)
	s.puts++
	return day.ObjectKey(), nil
}

// Ready fails while the store is unavailable.
func (s *Store) Ready(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unavailable {
		return fmt.Errorf("%w: fakestore is down", prices.ErrUnavailable)
	}
	return nil
}

// Objects returns a copy of everything stored, by object key.
func (s *Store) Objects() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.objects)
}

// Puts counts successful Put calls.
func (s *Store) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}
