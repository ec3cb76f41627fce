package mongostore_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/svar-dev/svar/ticketing"
)

// at returns a time in millisecond precision, as BSON stores it.
func at(minute int) time.Time {
	return time.Date(2025, 3, 14, 9, minute, 0, 0, time.UTC)
}

func ptr[T any](v T) *T { return &v }

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustNotFound(t testing.TB, err error) {
	t.Helper()
	if !ticketing.IsNotFound(err) || !errors.Is(err, ticketing.ErrNotFound) {
		t.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func mustDuplicate(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ticketing.ErrDuplicate) {
		t.Fatalf("err = %v, want ErrDuplicate", err)
	}
}

func mustCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := ticketing.ErrorCode(err); got != code {
		t.Fatalf("err = %v (code %s), want code %s", err, got, code)
	}
}

func equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func equalSlice[T comparable](t testing.TB, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}
