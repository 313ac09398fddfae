package handlers

import (
	"context"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/singleflight"

	"rustexpert/arena"
	"rustexpert/web"
)

// fitCache keeps the last leaderboard fit of each category with the stamp of the votes it was fitted
// on: a Bradley–Terry fit with its bootstrap takes about half a second of CPU at 100,000 votes. One
// fit of a category runs at a time, shared by the views that wait for it; while it runs, views of a
// category that has an earlier fit get that one (counted to its own votes) instead of waiting. With
// visitors voting all the time, every vote had made every view fit anew: 200 visitors' views fitted
// at once and the pages timed out.
type fitCache struct {
	mu      sync.Mutex
	fits    map[string]cachedFit
	fitting map[string]bool // categories with a fit running
	group   singleflight.Group
	made    atomic.Int64 // fits made, for tests
}

type cachedFit struct {
	stamp   string
	battles int
	res     arena.Result
	problem string
}

func newFitCache() *fitCache {
	return &fitCache{fits: map[string]cachedFit{}, fitting: map[string]bool{}}
}

// fillLeaderboardPage fits the counted votes of vm.Category (or reuses the fit of the same votes) and
// puts the ratings, matrices and counts on the page.
func (s *Server) fillLeaderboardPage(ctx context.Context, vm *web.ArenaLeaderboardPage) error {
	var err error
	if vm.Dropped, err = s.store.ArenaDroppedCount(ctx); err != nil {
		return err
	}
	fit, err := s.leaderboardFit(ctx, vm.Category)
	if err != nil {
		return err
	}
	vm.Votes, vm.Problem = fit.battles, fit.problem
	fillLeaderboard(vm, fit.res)
	return nil
}

// leaderboardFit returns the fit of category's counted votes: the kept one while the votes are the
// same or while a fit of newer votes runs, else a new one (see fitCache).
func (s *Server) leaderboardFit(ctx context.Context, category string) (cachedFit, error) {
	stamp, err := s.store.ArenaVotesStamp(ctx, category)
	if err != nil {
		return cachedFit{}, err
	}
	if fit, ok := s.fits.get(category, stamp); ok {
		return fit, nil
	}
	if s.fits == nil {
		return s.fitVotes(ctx, category, stamp)
	}
	v, err, _ := s.fits.group.Do(category, func() (any, error) {
		s.fits.setFitting(category, true)
		defer s.fits.setFitting(category, false)
		return s.fitVotes(context.WithoutCancel(ctx), category, stamp) // others may be waiting for it
	})
	if err != nil {
		return cachedFit{}, err
	}
	return v.(cachedFit), nil
}

// fitVotes fits category's counted votes, stamped so, and keeps the fit.
func (s *Server) fitVotes(ctx context.Context, category, stamp string) (cachedFit, error) {
	votes, err := s.store.ArenaVotes(ctx, category)
	if err != nil {
		return cachedFit{}, err
	}
	battles := make([]arena.Battle, 0, len(votes))
	for _, v := range votes {
		if o, ok := arenaOutcomes[v.Vote]; ok && v.ModelA != v.ModelB {
			battles = append(battles, arena.Battle{A: v.ModelA, B: v.ModelB, Outcome: o})
		}
	}
	fit := cachedFit{stamp: stamp, battles: len(battles)}
	if fit.res, err = arena.Fit(battles, arena.Options{Seed: arenaSeed}); err != nil {
		fit.problem = err.Error()
	}
	s.fits.put(category, fit)
	return fit, nil
}

// get returns the fit of category when it was made from the votes stamped so, or when a fit of the
// category is running and an earlier one is kept; a nil cache has none.
func (c *fitCache) get(category, stamp string) (cachedFit, bool) {
	if c == nil {
		return cachedFit{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fit, ok := c.fits[category]
	return fit, ok && (fit.stamp == stamp || c.fitting[category])
}

func (c *fitCache) put(category string, fit cachedFit) {
	if c == nil {
		return
	}
	c.made.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fits[category] = fit
}

func (c *fitCache) setFitting(category string, on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.fitting[category] = true
	} else {
		delete(c.fitting, category)
	}
}
