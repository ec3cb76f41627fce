package natsbus

// SetBatchGet switches the erasure's batched direct gets off (a server
// older than 2.11) or on, for tests of both ways of reading streams.
func SetBatchGet(b *Bus, on bool) { b.batchGet = on }

// SetDirectPartMin sets how long a stream must be for the erasure to read
// it in several ranges at once; it returns the previous value.
func SetDirectPartMin(n uint64) uint64 { old := directPartMin; directPartMin = n; return old }
