package store

import (
	"sync"
	"time"
)

// sessionCacheTTL bounds how long a session read from the database is reused without reading it again.
// Logging out, password and role changes go through this store and evict at once; the TTL bounds
// what reaches the database some other way (another process on the same file), and costs one read
// a session every two seconds.
const sessionCacheTTL = 2 * time.Second

// maxCachedSessions caps the cache; past it the cache starts over.
const maxCachedSessions = 10_000

// sessionCache keeps recently used sessions by token hash, so a request does not read its session
// from the database every time.
type sessionCache struct {
	mu      sync.Mutex
	entries map[string]cachedSession
}

type cachedSession struct {
	session Session
	until   time.Time
}

func newSessionCache() *sessionCache {
	return &sessionCache{entries: map[string]cachedSession{}}
}

func (c *sessionCache) get(tokenHash string, now time.Time) (Session, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[tokenHash]
	if !ok || now.After(e.until) || now.After(e.session.ExpiresAt) {
		return Session{}, false
	}
	return e.session, true
}

func (c *sessionCache) put(tokenHash string, s Session, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCachedSessions {
		clear(c.entries)
	}
	c.entries[tokenHash] = cachedSession{session: s, until: now.Add(sessionCacheTTL)}
}

func (c *sessionCache) evict(tokenHash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, tokenHash)
}

// evictUser drops every cached session of a user (after a change to the user).
func (c *sessionCache) evictUser(userID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.session.User.ID == userID {
			delete(c.entries, k)
		}
	}
}
