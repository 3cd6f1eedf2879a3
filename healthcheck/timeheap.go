package healthcheck

import "time"

// timed is what a timeHeap holds: something with a time that knows its
// place in the heap, so that it can be removed or moved in O(log n).
type timed interface {
	when() time.Time
	// place points at the element's index, -1 while not in a heap.
	place() *int
}

// timeHeap is a container/heap min-heap by time: the Scheduler's queue of
// jobs by due time and the loop's checks by deadline.
type timeHeap[T timed] []T

func (h timeHeap[T]) Len() int           { return len(h) }
func (h timeHeap[T]) Less(i, j int) bool { return h[i].when().Before(h[j].when()) }
func (h timeHeap[T]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	*h[i].place() = i
	*h[j].place() = j
}

func (h *timeHeap[T]) Push(x any) {
	e := x.(T)
	*e.place() = len(*h)
	*h = append(*h, e)
}

func (h *timeHeap[T]) Pop() any {
	old := *h
	n := len(old) - 1
	e := old[n]
	var zero T
	old[n] = zero
	*e.place() = -1
	*h = old[:n]
	return e
}

func (e *entry) when() time.Time { return e.due }
func (e *entry) place() *int     { return &e.index }
func (p *probe) when() time.Time { return p.deadline }
func (p *probe) place() *int     { return &p.hidx }
