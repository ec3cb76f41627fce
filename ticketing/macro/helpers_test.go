package macro_test

import (
	"errors"

	"github.com/svar-dev/svar/ticketing"
)

func asErr(err error, out **ticketing.Error) bool { return errors.As(err, out) }
