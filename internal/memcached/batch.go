package memcached

import "sync"

// slot is where one element of a batched call is answered: the index of
// its key or item in the call, and which of its two copies.
type slot struct{ elem, copy int }

// batch is what a multi-key call sends one node: its elements and the
// slot of each.
type batch[T any] struct {
	n     *node
	elems []T
	slots []slot
}

// addToBatch appends e, answered at s, to node n's batch in bs, adding the
// batch (room for size elements) when n has none yet.
func addToBatch[T any](bs []*batch[T], n *node, e T, s slot, size int) []*batch[T] {
	for _, b := range bs {
		if b.n == n {
			b.elems, b.slots = append(b.elems, e), append(b.slots, s)
			return bs
		}
	}
	b := &batch[T]{n: n, elems: make([]T, 1, size), slots: make([]slot, 1, size)}
	b.elems[0], b.slots[0] = e, s
	return append(bs, b)
}

// sendAll runs send for every batch at once, the last in this goroutine:
// a call to one node costs no goroutine.
func sendAll[T any](bs []*batch[T], send func(*batch[T])) {
	var wg sync.WaitGroup
	for i, b := range bs {
		if i == len(bs)-1 {
			send(b)
			break
		}
		wg.Go(func() { send(b) })
	}
	wg.Wait()
}
