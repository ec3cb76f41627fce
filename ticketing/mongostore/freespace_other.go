//go:build !unix

package mongostore

import "errors"

// freeBytes is unknown here: a full disk is not detected ahead of a failing write.
func freeBytes(string) (int64, error) { return 0, errors.New("free space unknown on this system") }
