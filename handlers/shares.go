package handlers

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/singleflight"

	"rustexpert/lru"
	"rustexpert/store"
	"rustexpert/training"
	"rustexpert/web"
)

// shareExpiries are the lifetimes a new link may have; "never" is the zero duration.
var shareExpiries = map[string]time.Duration{"1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "never": 0}

// shareExpiry is when a link made at now with the chosen lifetime expires (zero: never); an empty
// choice is never.
func shareExpiry(choice string, now time.Time) (time.Time, error) {
	if choice == "" {
		choice = "never"
	}
	d, ok := shareExpiries[choice]
	if !ok {
		return time.Time{}, fmt.Errorf("%w: expires: %q is not 1d, 7d, 30d or never", store.ErrInvalid, choice)
	}
	if d == 0 {
		return time.Time{}, nil
	}
	return now.Add(d), nil
}

// shareURL is a link's address: a chat's keeps the /share/chat/ form its links always had.
func shareURL(sh store.Share) string {
	if sh.Kind == store.ShareChat {
		return sharedChatPath(sh.Token)
	}
	return "/s/" + url.PathEscape(sh.Token)
}

// sharedThing is a link's target as checked for the user: its canonical form, its title and its
// own page.
type sharedThing struct {
	target string
	title  string
	page   string
}

// resolveShare checks that the target of a new link exists and that the user may see it: a chat
// must be the user's own (anyone else's is not found), a run must exist, a leaderboard category
// must have votes, an eval report must be a valid comparison.
func (s *Server) resolveShare(ctx context.Context, user store.User, kind, target string) (sharedThing, error) {
	target = strings.TrimSpace(target)
	switch kind {
	case store.ShareChat:
		id, err := strconv.ParseInt(target, 10, 64)
		if err != nil {
			return sharedThing{}, fmt.Errorf("chat %q: %w", target, store.ErrNotFound)
		}
		chat, err := s.store.UserChat(ctx, user.ID, id)
		if err != nil {
			return sharedThing{}, err
		}
		return sharedThing{target: strconv.FormatInt(chat.ID, 10), title: chat.Title, page: chatStreamPath(chat.ID)}, nil
	case store.ShareRun:
		id, err := strconv.ParseInt(target, 10, 64)
		if err != nil {
			return sharedThing{}, fmt.Errorf("run %q: %w", target, store.ErrNotFound)
		}
		run, err := s.store.Run(ctx, id)
		if err != nil {
			return sharedThing{}, err
		}
		return sharedThing{target: strconv.FormatInt(run.ID, 10), title: runTitle(run), page: runPath(run.ID)}, nil
	case store.ShareLeaderboard:
		return s.resolveLeaderboard(ctx, target)
	case store.ShareEvalReport:
		return s.resolveEvalReport(ctx, target)
	}
	return sharedThing{}, fmt.Errorf("%w: kind: %q is not chat, eval_report, run or leaderboard", store.ErrInvalid, kind)
}

func (s *Server) resolveLeaderboard(ctx context.Context, category string) (sharedThing, error) {
	thing := sharedThing{target: category, title: "Arena leaderboard, all categories", page: "/arena/leaderboard"}
	if category == "" {
		return thing, nil
	}
	cats, err := s.store.ArenaCategories(ctx)
	if err != nil {
		return sharedThing{}, err
	}
	if !slices.Contains(cats, category) {
		return sharedThing{}, fmt.Errorf("arena category %q: %w", category, store.ErrNotFound)
	}
	thing.title = "Arena leaderboard, category " + category
	thing.page += "?" + url.Values{"category": {category}}.Encode()
	return thing, nil
}

func (s *Server) resolveEvalReport(ctx context.Context, query string) (sharedThing, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return sharedThing{}, fmt.Errorf("%w: eval report query %q: %v", store.ErrInvalid, query, err)
	}
	choice, err := parseEvalChoice(q)
	if err != nil {
		return sharedThing{}, err
	}
	rep, err := s.evalReport(ctx, choice)
	if err != nil {
		return sharedThing{}, err
	}
	return sharedThing{target: choice.query(), title: rep.Title, page: "/eval?" + choice.query()}, nil
}

func runTitle(run store.Run) string {
	title := fmt.Sprintf("Run %d · %s", run.ID, run.Kind)
	if run.Name != "" {
		title += " · " + run.Name
	}
	return title
}

func chatStreamPath(id int64) string { return "/chat/" + strconv.FormatInt(id, 10) }

// handleShareCreate makes a read-only link of what the form names (kind, target) for the chosen
// time. HTMX gets the page's share box with the user's live links of that target; a plain form
// goes to the link page.
func (s *Server) handleShareCreate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	user := userFrom(r)
	kind := r.FormValue("kind")
	expires, err := shareExpiry(r.FormValue("expires"), time.Now())
	if err != nil {
		s.error(w, r, err)
		return
	}
	thing, err := s.resolveShare(ctx, user, kind, r.FormValue("target"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	sh, err := s.store.CreateShare(ctx, store.ShareInput{Kind: kind, Target: thing.target, Title: thing.title, CreatedBy: user.ID, ExpiresAt: expires})
	if err != nil {
		s.error(w, r, err)
		return
	}
	if !isHTMX(r) {
		http.Redirect(w, r, "/shares", http.StatusSeeOther)
		return
	}
	box, err := s.shareBox(r, sh.Kind, sh.Target)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusCreated, web.ShareBoxView(box))
}

// shareBox is a target's share box with the user's live links of it, newest first.
func (s *Server) shareBox(r *http.Request, kind, target string) (web.ShareBox, error) {
	user := userFrom(r)
	list, err := s.store.ListShares(r.Context(), store.ShareFilter{CreatedBy: user.ID, Kind: kind, Target: target})
	if err != nil {
		return web.ShareBox{}, err
	}
	box := web.NewShareBox(kind, target, s.nav(r, ""))
	at := time.Now()
	for _, sh := range list {
		if sh.State(at) == store.ShareLive {
			box.Links = append(box.Links, web.ShareBoxLink{URL: shareURL(sh), Expires: expiresText(sh.ExpiresAt)})
		}
	}
	return box, nil
}

func expiresText(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return formatJobTime(t)
}

// handleChatShareLink is the chat page's old "Save and share": a link that never expires, and back
// to the chat, which shows it.
func (s *Server) handleChatShareLink(w http.ResponseWriter, r *http.Request) {
	user := userFrom(r)
	thing, err := s.resolveShare(r.Context(), user, store.ShareChat, chi.URLParam(r, "id"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	if _, err := s.store.CreateShare(r.Context(), store.ShareInput{Kind: store.ShareChat, Target: thing.target, Title: thing.title, CreatedBy: user.ID}); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, thing.page, http.StatusSeeOther)
}

// handleShares lists links: every link for admins, the user's own for others.
func (s *Server) handleShares(w http.ResponseWriter, r *http.Request) {
	user := userFrom(r)
	f := store.ShareFilter{CreatedBy: user.ID}
	if user.IsAdmin() {
		f.CreatedBy = 0
	}
	list, err := s.store.ListShares(r.Context(), f)
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm := web.SharesPage{Nav: s.nav(r, "Share links"), All: user.IsAdmin()}
	at := time.Now()
	for _, sh := range list {
		vm.Rows = append(vm.Rows, shareRow(sh, at, user))
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, web.SharesView(vm))
}

func shareRow(sh store.Share, at time.Time, viewer store.User) web.ShareRow {
	row := web.ShareRow{ID: sh.ID, Kind: sh.Kind, What: sh.Title, WhatURL: sharePage(sh, viewer), URL: shareURL(sh), By: sh.CreatedByName,
		Created: formatJobTime(sh.CreatedAt), Expires: expiresText(sh.ExpiresAt), Views: sh.Views, LastViewed: formatJobTime(sh.LastViewedAt),
		State: sh.State(at), CanRevoke: sh.RevokedAt.IsZero()}
	if row.What == "" {
		row.What = sh.Kind + " " + sh.Target
	}
	switch row.State {
	case store.ShareRevoked:
		row.StateNote = formatJobTime(sh.RevokedAt)
		if sh.RevokedByName != "" {
			row.StateNote += " by " + sh.RevokedByName
		}
	case store.ShareExpired:
		row.StateNote = formatJobTime(sh.ExpiresAt)
	}
	return row
}

// sharePage is the shared thing's own page when the viewer can open it ("" for another's chat).
func sharePage(sh store.Share, viewer store.User) string {
	switch sh.Kind {
	case store.ShareChat:
		if sh.CreatedBy != viewer.ID {
			return ""
		}
		return "/chat/" + url.PathEscape(sh.Target)
	case store.ShareRun:
		return "/runs/" + url.PathEscape(sh.Target)
	case store.ShareLeaderboard:
		if sh.Target == "" {
			return "/arena/leaderboard"
		}
		return "/arena/leaderboard?" + url.Values{"category": {sh.Target}}.Encode()
	case store.ShareEvalReport:
		return "/eval?" + sh.Target
	}
	return ""
}

// handleShareRevoke ends a link: admins any, others their own (another's is not found).
func (s *Server) handleShareRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		s.error(w, r, fmt.Errorf("share link %q: %w", chi.URLParam(r, "id"), store.ErrNotFound))
		return
	}
	if _, err := s.store.RevokeShare(r.Context(), id, userFrom(r)); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/shares", http.StatusSeeOther)
}

// handleShareView shows what a link shares, read only, to anyone holding it (no login): 404 for an
// unknown token, 410 with the date for a revoked or expired link.
func (s *Server) handleShareView(w http.ResponseWriter, r *http.Request) {
	s.serveShare(w, r, "")
}

// handleSharedChatLink serves the chat links of the /share/chat/ form; other kinds are not found there.
func (s *Server) handleSharedChatLink(w http.ResponseWriter, r *http.Request) {
	s.serveShare(w, r, store.ShareChat)
}

func (s *Server) serveShare(w http.ResponseWriter, r *http.Request, onlyKind string) {
	w.Header().Set("X-Robots-Tag", "noindex, nofollow")
	w.Header().Set("Cache-Control", "no-store")
	sh, err := s.store.ShareByToken(r.Context(), chi.URLParam(r, "token"))
	if (err == nil || errors.Is(err, store.ErrGone)) && onlyKind != "" && sh.Kind != onlyKind {
		err = fmt.Errorf("shared %s: %w", onlyKind, store.ErrNotFound)
	}
	switch {
	case errors.Is(err, store.ErrGone):
		s.render(w, r, http.StatusGone, web.ShareGoneView(goneView(sh)))
		return
	case err != nil:
		s.error(w, r, err)
		return
	}
	view, err := s.sharedView(r, sh)
	if err != nil {
		s.error(w, r, err)
		return
	}
	if err := s.store.RecordShareView(r.Context(), sh.ID); err != nil {
		s.log.Warn("count share view", slog.Int64("share_id", sh.ID), slog.Any("error", err))
	}
	if p, ok := view.(gzipPage); ok && p.serve(w, r) {
		return
	}
	s.render(w, r, http.StatusOK, view)
}

func goneView(sh store.Share) web.ShareGonePage {
	if !sh.RevokedAt.IsZero() {
		return web.ShareGonePage{State: store.ShareRevoked, When: formatJobTime(sh.RevokedAt)}
	}
	return web.ShareGonePage{State: store.ShareExpired, When: formatJobTime(sh.ExpiresAt)}
}

// sharedView is the read-only page of a live link; a target that is gone is not found.
func (s *Server) sharedView(r *http.Request, sh store.Share) (templ.Component, error) {
	switch sh.Kind {
	case store.ShareChat:
		return s.sharedChat(r.Context(), sh)
	case store.ShareRun:
		return s.sharedRun(r.Context(), sh.Target)
	case store.ShareLeaderboard:
		return s.sharedLeaderboard(r.Context(), sh.Target)
	case store.ShareEvalReport:
		return s.sharedEval(r.Context(), sh.Target)
	}
	return nil, fmt.Errorf("share link %d: kind %q: %w", sh.ID, sh.Kind, store.ErrNotFound)
}

func targetID(kind, target string) (int64, error) {
	id, err := strconv.ParseInt(target, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("shared %s %q: %w", kind, target, store.ErrNotFound)
	}
	return id, nil
}

// sharedChat is the saved chat without forms or streams. Only a chat's owner makes its links, so
// the chat is read as the link maker's.
func (s *Server) sharedChat(ctx context.Context, sh store.Share) (templ.Component, error) {
	id, err := targetID("chat", sh.Target)
	if err != nil {
		return nil, err
	}
	chat, err := s.store.UserChat(ctx, sh.CreatedBy, id)
	if err != nil {
		return nil, err
	}
	turns, err := s.store.ChatTurns(ctx, chat.ID)
	if err != nil {
		return nil, err
	}
	return web.SharedChatView(web.SharedChatPage{Title: chat.Title, CreatedAt: chat.CreatedAt.Local().Format(timeLayout),
		Columns: chatColumns(turns, nil), Exchanges: s.chatExchanges(turns, false)}), nil
}

// sharedRun is the run page without forms, log, run.json or live updates: the state as stored
// and the metrics drawn once.
func (s *Server) sharedRun(ctx context.Context, target string) (templ.Component, error) {
	id, err := targetID("run", target)
	if err != nil {
		return nil, err
	}
	run, err := s.store.Run(ctx, id)
	if err != nil {
		return nil, err
	}
	st := training.StateOf(run, time.Now())
	if tr, err := s.trainer(); err == nil {
		if st, err = tr.State(ctx, run.ID); err != nil {
			return nil, err
		}
	}
	points, err := s.store.RunMetrics(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	vm := web.RunPage{ID: run.ID, Kind: run.Kind, Name: run.Name, Parent: run.ParentName, ParentID: run.ParentID,
		Dataset: datasetName(run.DatasetID), DatasetID: run.DatasetID, State: stateView(st),
		CreatedAt: formatJobTime(run.CreatedAt), FinishedAt: formatJobTime(run.FinishedAt), ReadOnly: true, Charts: runCharts(points)}
	names := make([]string, 0, len(st.Final))
	for k := range st.Final {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		vm.Final = append(vm.Final, web.RunMetric{Name: k, Value: strconv.FormatFloat(st.Final[k], 'g', 6, 64)})
	}
	return web.RunView(vm), nil
}

// runCharts groups stored metric points into one chart per metric, by name, in step order.
func runCharts(points []store.MetricPoint) []web.RunChart {
	by := map[string][][2]float64{}
	for _, p := range points {
		by[p.Name] = append(by[p.Name], [2]float64{float64(p.Step), p.Value})
	}
	charts := make([]web.RunChart, 0, len(by))
	for name, pts := range by {
		slices.SortFunc(pts, func(a, b [2]float64) int { return cmp.Compare(a[0], b[0]) })
		charts = append(charts, web.RunChart{Name: name, Points: pts})
	}
	slices.SortFunc(charts, func(a, b web.RunChart) int { return strings.Compare(a.Name, b.Name) })
	return charts
}

// sharedLeaderboard fits the counted votes of the link's category as the leaderboard does.
func (s *Server) sharedLeaderboard(ctx context.Context, category string) (templ.Component, error) {
	vm := web.ArenaLeaderboardPage{Category: category, ReadOnly: true}
	if err := s.fillLeaderboardPage(ctx, &vm); err != nil {
		return nil, err
	}
	return web.ArenaLeaderboardView(vm), nil
}

// sharedEval shows the link's report alone, computed as /eval would. The page of a comparison of
// finished runs is kept (see reportCache) until the runs or the arena votes change; other reports are
// computed on every view.
func (s *Server) sharedEval(ctx context.Context, query string) (templ.Component, error) {
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("shared eval report %q: %w", query, store.ErrNotFound)
	}
	choice, err := parseEvalChoice(q)
	if err != nil {
		return nil, err
	}
	version, ok, err := s.evalVersion(ctx, choice)
	if err != nil {
		return nil, err
	}
	if !ok || s.reports == nil {
		return s.sharedEvalComponent(ctx, choice)
	}
	page, err := s.reports.page(ctx, choice.query(), version, func(ctx context.Context) ([]byte, error) {
		return s.sharedEvalPage(ctx, choice)
	})
	if err != nil {
		return nil, err
	}
	return gzipPage(page), nil
}

func (s *Server) sharedEvalComponent(ctx context.Context, choice evalChoice) (templ.Component, error) {
	rep, err := s.evalReport(ctx, choice)
	if err != nil {
		return nil, err
	}
	return web.SharedEvalView(web.SharedEvalPage{Report: rep}), nil
}

// sharedEvalPage renders the shared report's page, gzip-compressed (see gzipPage); it is the same
// for every visitor (no session, no CSRF token), so compressing it once gives nothing away.
func (s *Server) sharedEvalPage(ctx context.Context, choice evalChoice) ([]byte, error) {
	view, err := s.sharedEvalComponent(ctx, choice)
	if err != nil {
		return nil, err
	}
	var page bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&page, gzip.DefaultCompression)
	if err := view.Render(ctx, zw); err != nil {
		return nil, fmt.Errorf("render shared eval report %q: %w", choice.query(), err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress shared eval report %q: %w", choice.query(), err)
	}
	return page.Bytes(), nil
}

// gzipPage is a whole page kept gzip-compressed (a cached shared report: 11.8 MB of HTML for two
// runs over 500 problems, 260 KB compressed). serveShare sends it as it is to a
// client that accepts gzip; rendered, it writes the page decompressed.
type gzipPage []byte

func (p gzipPage) Render(_ context.Context, w io.Writer) error {
	zr, err := gzip.NewReader(bytes.NewReader(p))
	if err != nil {
		return fmt.Errorf("cached page: %w", err)
	}
	_, err = io.Copy(w, zr)
	return err
}

// serve sends the compressed page to a client whose Accept-Encoding takes gzip, and reports
// whether it did.
func (p gzipPage) serve(w http.ResponseWriter, r *http.Request) bool {
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		return false
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Encoding", "gzip")
	h.Set("Content-Length", strconv.Itoa(len(p)))
	if !strings.Contains(strings.ToLower(h.Get("Vary")), "accept-encoding") {
		h.Add("Vary", "Accept-Encoding")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(p)
	return true
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: listed, or "*", without q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		q, ok := strings.CutPrefix(strings.ReplaceAll(strings.TrimSpace(params), " ", ""), "q=")
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

// evalVersion stamps what a comparison of eval runs shows: each run's id, status and end, and the
// counted arena votes (the ratings column). A finished run's results no longer change (results are
// stored only while it runs), so the stamp changes whenever the report would. ok is false for reports
// that are not kept: a run still going, or generation jobs, whose answers and compiler checks arrive
// at any time.
func (s *Server) evalVersion(ctx context.Context, c evalChoice) (string, bool, error) {
	if c.mode != web.EvalModeRuns || checkCount(c.ids, evalMaxRuns, "eval runs") != nil {
		return "", false, nil
	}
	var b strings.Builder
	for _, id := range c.ids {
		run, err := s.store.EvalRun(ctx, id)
		if err != nil {
			return "", false, err
		}
		if run.Status == store.EvalRunning {
			return "", false, nil
		}
		fmt.Fprintf(&b, "%d:%s:%s;", run.ID, run.Status, run.Finished.UTC().Format(time.RFC3339Nano))
	}
	votes, err := s.store.ArenaVotesStamp(ctx, "")
	if err != nil {
		return "", false, err
	}
	b.WriteString(votes)
	return b.String(), true, nil
}

// reportCacheBytes bounds the pages the shared report cache keeps, compressed: a report of two runs
// over 500 problems renders to about 12 MB of HTML, 260 KB compressed.
const reportCacheBytes = 96 << 20

// reportCache keeps rendered pages of shared eval reports, gzip-compressed, by the link's normalized query, each with
// the data version it was built from; a page is served only while the version is unchanged. The
// least recently used pages go first once they pass their bytes bound. Concurrent views of the same
// report and version wait for one build.
type reportCache struct {
	pages  *lru.Cache[string, reportPage]
	builds singleflight.Group
}

type reportPage struct {
	version string
	page    []byte
}

func newReportCache(maxBytes int) *reportCache {
	return &reportCache{pages: lru.New(maxBytes, func(_ string, p reportPage) int { return len(p.page) })}
}

// page returns the kept page of key at version, or builds it once for every caller waiting on it.
// The build runs without the caller's cancellation, since others may be waiting for it; a failed
// build is not kept.
func (c *reportCache) page(ctx context.Context, key, version string, build func(context.Context) ([]byte, error)) ([]byte, error) {
	if p, ok := c.pages.Get(key); ok && p.version == version {
		return p.page, nil
	}
	v, err, _ := c.builds.Do(key+"\x00"+version, func() (any, error) {
		page, err := build(context.WithoutCancel(ctx))
		if err == nil {
			c.pages.Put(key, reportPage{version: version, page: page})
		}
		return page, err
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}
