package handlers

import (
	"context"
	"sync"

	"rustexpert/arena"
	"rustexpert/web"
)

// fitCache keeps the last leaderboard fit of each category with the stamp of the votes it was fitted
// on: a Bradley–Terry fit with its bootstrap takes about half a second of CPU at 100,000 votes, and the
// votes change far less often than the page is read.
type fitCache struct {
	mu   sync.Mutex
	fits map[string]cachedFit
}

type cachedFit struct {
	stamp   string
	battles int
	res     arena.Result
	problem string
}

func newFitCache() *fitCache { return &fitCache{fits: map[string]cachedFit{}} }

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

func (s *Server) leaderboardFit(ctx context.Context, category string) (cachedFit, error) {
	stamp, err := s.store.ArenaVotesStamp(ctx, category)
	if err != nil {
		return cachedFit{}, err
	}
	if fit, ok := s.fits.get(category, stamp); ok {
		return fit, nil
	}
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

// get returns the fit of category when it was made from the votes stamped so; a nil cache has none.
func (c *fitCache) get(category, stamp string) (cachedFit, bool) {
	if c == nil {
		return cachedFit{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fit, ok := c.fits[category]
	return fit, ok && fit.stamp == stamp
}

func (c *fitCache) put(category string, fit cachedFit) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fits[category] = fit
}
