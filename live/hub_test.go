package live

import "testing"

func TestPublishReachesSubscribers(t *testing.T) {
	h := NewHub(4)
	a, stopA := h.Subscribe("job:1")
	defer stopA()
	b, stopB := h.Subscribe("job:2")
	defer stopB()
	h.Publish("job:1", []byte("x"))
	if got := string(<-a); got != "x" {
		t.Fatalf("got %q", got)
	}
	select {
	case m := <-b:
		t.Fatalf("other topic got %q", m)
	default:
	}
}

func TestSlowSubscriberIsDroppedNotBlocking(t *testing.T) {
	h := NewHub(2)
	ch, stop := h.Subscribe("t")
	defer stop()
	for range 10 {
		h.Publish("t", []byte("m")) // must not block
	}
	n := 0
	for range ch {
		n++
	}
	if n != 2 {
		t.Fatalf("buffered %d messages before the drop, want 2", n)
	}
	if h.Subscribers("t") != 0 {
		t.Fatalf("slow subscriber still registered")
	}
}

func TestUnsubscribeTwiceIsSafe(t *testing.T) {
	h := NewHub(1)
	_, stop := h.Subscribe("t")
	stop()
	stop()
	h.Publish("t", []byte("m"))
}
