// Package live fans out progress events to websocket subscribers without ever blocking the publisher.
package live

import "sync"

// Hub delivers messages published on a topic to that topic's subscribers.
// A subscriber that falls behind by more than its buffer is dropped (its channel closed)
// instead of slowing the publisher down.
type Hub struct {
	mu     sync.Mutex
	subs   map[string]map[*subscriber]struct{}
	buffer int
}

type subscriber struct {
	ch     chan []byte
	closed bool
}

// NewHub returns a hub whose subscribers buffer up to buffer messages.
func NewHub(buffer int) *Hub {
	return &Hub{subs: map[string]map[*subscriber]struct{}{}, buffer: buffer}
}

// Subscribe returns a channel of the topic's messages and a function that ends the subscription.
// The channel is closed when the subscription ends or the subscriber was too slow.
func (h *Hub) Subscribe(topic string) (<-chan []byte, func()) {
	s := &subscriber{ch: make(chan []byte, h.buffer)}
	h.mu.Lock()
	if h.subs[topic] == nil {
		h.subs[topic] = map[*subscriber]struct{}{}
	}
	h.subs[topic][s] = struct{}{}
	h.mu.Unlock()
	return s.ch, func() { h.remove(topic, s) }
}

func (h *Hub) remove(topic string, s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(topic, s)
}

func (h *Hub) dropLocked(topic string, s *subscriber) {
	if s.closed {
		return
	}
	s.closed = true
	close(s.ch)
	delete(h.subs[topic], s)
	if len(h.subs[topic]) == 0 {
		delete(h.subs, topic)
	}
}

// Publish sends msg to every subscriber of topic. It never blocks.
func (h *Hub) Publish(topic string, msg []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[topic] {
		select {
		case s.ch <- msg:
		default:
			h.dropLocked(topic, s)
		}
	}
}

// Subscribers returns how many subscribers a topic has.
func (h *Hub) Subscribers(topic string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs[topic])
}
