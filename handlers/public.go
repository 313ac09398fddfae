package handlers

// Public mode (serve --public): anonymous visitors get the chat, the arena and the model cards, each
// visitor with an identity of its own held in a cookie; every other page still needs a login. Also
// here: the model-card banner and page, the event a refused stream gets, and the client address
// behind trusted proxies.

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"rustexpert/store"
	"rustexpert/web"
)

// A visitor's cookie holds a random 256-bit token for store.VisitorTTL from its first visit.
const (
	visitorCookie = "rx_visitor"
	visitorKey    = ctxKey(2)
	// visitorPruneEvery is how often a public server forgets visitors whose cookies have expired.
	visitorPruneEvery = 6 * time.Hour
	// maxModelCardBytes bounds the README a model card page reads.
	maxModelCardBytes = 256 << 10
	csrfRefusal       = "invalid or missing CSRF token; reload the page and try again"
)

// visitor is an anonymous browser of a public server.
type visitor struct {
	token  string
	userID int64 // the users row owning its chats and battles; 0 until it changes something
}

// csrfToken is the visitor's CSRF token: derived from the cookie's secret, so a page that cannot
// read the cookie cannot make it, and no row is needed before the visitor's first change.
func (v visitor) csrfToken() string {
	sum := sha256.Sum256([]byte("rustexpert visitor csrf\x00" + v.token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func visitorFrom(ctx context.Context) (visitor, bool) {
	v, ok := ctx.Value(visitorKey).(visitor)
	return v, ok
}

// isVisitor reports whether the request comes from an anonymous visitor of a public server.
func isVisitor(r *http.Request) bool {
	_, ok := visitorFrom(r.Context())
	return ok
}

func newVisitorToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validVisitorToken(token string) bool {
	b, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil && len(b) == 32
}

// allowVisitors guards the routes anonymous visitors may use. A logged-in user passes; without
// public mode everyone else is sent to log in, as requireUser does. In public mode a visitor without
// a cookie gets one on its first page; a state-changing request must come from a known visitor and
// carry its CSRF token, and the visitor's first change gives it its users row.
func (s *Server) allowVisitors(next http.Handler) http.Handler {
	loggedIn := s.requireUser(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := sessionFrom(r.Context()); ok || !s.cfg.Public {
			loggedIn.ServeHTTP(w, r)
			return
		}
		v, known, err := s.visitorOf(r)
		if err != nil {
			s.error(w, r, err)
			return
		}
		switch {
		case !isSafeMethod(r.Method):
			if !known || subtle.ConstantTimeCompare([]byte(csrfFrom(r)), []byte(v.csrfToken())) != 1 {
				http.Error(w, csrfRefusal, http.StatusForbidden)
				return
			}
			if v.userID == 0 {
				if v.userID, err = s.store.CreateVisitor(r.Context(), v.token, clientIP(r)); err != nil {
					s.error(w, r, err)
					return
				}
			}
		case !known:
			v = visitor{token: newVisitorToken()}
			http.SetCookie(w, &http.Cookie{Name: visitorCookie, Value: v.token, Path: "/", HttpOnly: true,
				Secure: s.cfg.SecureCookies || r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: int(store.VisitorTTL.Seconds())})
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), visitorKey, v)))
	})
}

// visitorOf reads the visitor of the request's cookie; known is false when there is none.
func (s *Server) visitorOf(r *http.Request) (v visitor, known bool, err error) {
	c, err := r.Cookie(visitorCookie)
	if err != nil || !validVisitorToken(c.Value) {
		return visitor{}, false, nil
	}
	v.token = c.Value
	v.userID, err = s.store.VisitorUser(r.Context(), c.Value)
	if errors.Is(err, store.ErrNotFound) {
		return v, true, nil
	}
	return v, err == nil, err
}

// VisitorPruner forgets the visitors of a public server whose cookies have expired
// (store.PruneVisitors with a cutoff of now − store.VisitorTTL): once when it starts, then every
// Interval. serve runs it in public mode.
type VisitorPruner struct {
	Store    *store.Store
	Log      *slog.Logger
	Interval time.Duration    // 0: every 6 hours
	Now      func() time.Time // nil: time.Now
}

// Run prunes until ctx ends. A failed prune is logged and tried again at the next interval.
func (p *VisitorPruner) Run(ctx context.Context) error {
	every := cmp.Or(p.Interval, visitorPruneEvery)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		p.prune(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// prune forgets the expired visitors once and logs one line when there were any.
func (p *VisitorPruner) prune(ctx context.Context) {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	cutoff := now().Add(-store.VisitorTTL)
	n, err := p.Store.PruneVisitors(ctx, cutoff)
	if err != nil && ctx.Err() == nil {
		p.Log.Warn("pruning expired visitors", slog.Time("cutoff", cutoff), slog.Int("visitors", n.Visitors), slog.Any("error", err))
		return
	}
	if n.Visitors > 0 {
		p.Log.Info("pruned expired visitors", slog.Int("visitors", n.Visitors), slog.Int("chats", n.Chats), slog.Time("cutoff", cutoff))
	}
}

// csrfFrom is the CSRF token a request carries: HTMX's header or a form field.
func csrfFrom(r *http.Request) string {
	if token := r.Header.Get("X-CSRF-Token"); token != "" {
		return token
	}
	return r.FormValue("csrf")
}

// checkVisitorArenaCap applies the arena's daily cap to the visitors of the request's address
// together, so that a new cookie does not bring new votes. Users are capped by the store alone.
func (s *Server) checkVisitorArenaCap(r *http.Request, cap int) error {
	if !isVisitor(r) {
		return nil
	}
	return s.store.CheckVisitorArenaCap(r.Context(), clientIP(r), cap)
}

// arenaVotesToday is the voter's count against the daily cap: a visitor's own votes or those of
// its address, whichever is more.
func (s *Server) arenaVotesToday(r *http.Request) (int, error) {
	n, err := s.store.ArenaVotesToday(r.Context(), userFrom(r).ID)
	if err != nil || !isVisitor(r) {
		return n, err
	}
	byIP, err := s.store.VisitorArenaVotesToday(r.Context(), clientIP(r))
	return max(n, byIP), err
}

// publicChatColumns makes a visitor's new chat v1 | v2 | v2 with docs when both models are
// registered and documentation is indexed.
func (s *Server) publicChatColumns(ctx context.Context, cols []web.ChatColumn) {
	if len(cols) < 3 || cols[0].Model != "v1" || cols[1].Model != "v2" || !s.ragReady(ctx) {
		return
	}
	cols[2].ModelID, cols[2].Model, cols[2].RAG = cols[1].ModelID, cols[1].Model, true
}

// loopback is whom public mode trusts as a proxy when no --trusted-proxies are given: a proxy on
// the same machine.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// clientAddress puts the client's address into RemoteAddr, where the limits read it. Outside public
// mode, with no trusted proxies named, forwarding headers are believed as they come (chi's RealIP).
// Otherwise only a trusted proxy's X-Forwarded-For is read (or, without it, its X-Real-IP), and any
// other peer is the client itself: a visitor cannot pick its own address for the per-IP limits.
func (s *Server) clientAddress(next http.Handler) http.Handler {
	if !s.cfg.Public && len(s.cfg.TrustedProxies) == 0 {
		return middleware.RealIP(next)
	}
	trusted := s.cfg.TrustedProxies
	if len(trusted) == 0 {
		trusted = loopback
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, ok := forwardedClient(r, trusted); ok {
			r.RemoteAddr = ip
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedClient reads the client's address from a trusted peer's headers: X-Forwarded-For from the
// right, the first address that is not a trusted proxy. An entry that does not parse stops the walk
// (nothing left of it can be trusted) and the peer stays the client.
func forwardedClient(r *http.Request, trusted []netip.Prefix) (string, bool) {
	peer, err := netip.ParseAddr(clientIP(r))
	if err != nil || !inPrefixes(peer, trusted) {
		return "", false
	}
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		hops := strings.Split(strings.Join(xff, ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				return "", false
			}
			if !inPrefixes(a, trusted) {
				return a.Unmap().WithZone("").String(), true
			}
		}
		return "", false
	}
	if real := r.Header.Values("X-Real-IP"); len(real) > 0 {
		if a, err := netip.ParseAddr(strings.TrimSpace(real[len(real)-1])); err == nil {
			return a.Unmap().WithZone("").String(), true
		}
	}
	return "", false
}

func inPrefixes(a netip.Addr, prefixes []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(a) })
}

// acceptsEventStream reports whether the request is a browser's EventSource.
func acceptsEventStream(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// streamRefusal is the one event of a stream that a limit refused.
type streamRefusal struct {
	Status     int    `json:"status"`
	Message    string `json:"message"`
	RetryAfter int    `json:"retry_after"`
}

// refuseStream answers an event stream that the generation gate or a rate limit stops with a "busy"
// event (what to tell the reader, when to retry) and ends it: an EventSource cannot read an HTTP
// error's status or body, so the column would only stay empty.
func refuseStream(w http.ResponseWriter, status int, retry time.Duration, msg string) {
	secs := int(math.Ceil(max(retry, time.Second).Seconds()))
	text := fmt.Sprintf("The server is busy; try again in %d s.", secs)
	if status != http.StatusServiceUnavailable {
		text = sentence(msg)
	}
	b, _ := json.Marshal(streamRefusal{Status: status, Message: text, RetryAfter: secs})
	newEventStream(w).send("busy", string(b))
}

// sentence starts msg with a capital letter and ends it with a full stop.
func sentence(msg string) string {
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// modelLineages describes the named models (all of them for nil), in that order, as the banner and
// the card page show them; names the registry does not hold are left out.
func (s *Server) modelLineages(ctx context.Context, names []string) ([]web.ModelLineage, error) {
	models, err := s.store.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	origins, err := s.store.ModelOrigins(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]store.Model, len(models))
	byID := make(map[int64]string, len(models))
	for _, m := range models {
		byName[m.Name], byID[m.ID] = m, m.Name
	}
	if names == nil {
		for _, m := range models {
			names = append(names, m.Name)
		}
	}
	var out []web.ModelLineage
	for _, name := range names {
		m, ok := byName[name]
		if !ok || slices.ContainsFunc(out, func(l web.ModelLineage) bool { return l.Name == name }) {
			continue
		}
		o := origins[m.ID]
		out = append(out, web.ModelLineage{Name: m.Name, Parent: byID[m.ParentID], RunID: o.RunID, RunKind: o.RunKind,
			DatasetID: o.DatasetID, DatasetKind: o.DatasetKind, DatasetRows: o.DatasetRows, Notes: m.Notes,
			HasCard: modelCardFile(m) != ""})
	}
	return out, nil
}

// modelBanner says which models answer on a page and how each was made. It shows in public mode,
// and to logged-in users when one of the models has a card.
func (s *Server) modelBanner(r *http.Request, columns, names []string, note string) (web.ModelBanner, error) {
	lineages, err := s.modelLineages(r.Context(), names)
	if err != nil {
		return web.ModelBanner{}, err
	}
	b := web.ModelBanner{Columns: columns, Models: lineages, Note: note, Visitor: isVisitor(r)}
	b.Show = b.Visitor || (len(lineages) > 0 && (s.cfg.Public || slices.ContainsFunc(lineages, func(l web.ModelLineage) bool { return l.HasCard })))
	return b, nil
}

// chatBanner is the banner over a chat's columns (or the new-chat form's picks).
func (s *Server) chatBanner(r *http.Request, cols []web.ChatColumn) (web.ModelBanner, error) {
	var labels, names []string
	for _, c := range cols {
		if c.Model == "" {
			continue
		}
		label := c.Model
		if c.RAG {
			label += " + docs"
		}
		labels, names = append(labels, label), append(names, c.Model)
	}
	if names == nil {
		names = []string{}
	}
	return s.modelBanner(r, labels, names, "")
}

// arenaBanner is the banner over the arena: every registered model may answer a battle.
func (s *Server) arenaBanner(r *http.Request, withRAG bool) (web.ModelBanner, error) {
	note := "Two of these answer each battle; their names show after your vote."
	if withRAG {
		note += ` Each may also answer with retrieved documentation ("+rag").`
	}
	return s.modelBanner(r, nil, nil, note)
}

// modelCardFile is the model card (README.md) of a built-in model: in its adapter folder, else in
// its base when that is a folder; "" when there is none.
func modelCardFile(m store.Model) string {
	if m.Provider != store.ProviderBuiltin {
		return ""
	}
	dir := m.Adapter
	if dir == "" {
		if fi, err := os.Stat(m.Base); err != nil || !fi.IsDir() {
			return ""
		}
		dir = m.Base
	}
	path := filepath.Join(dir, "README.md")
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		return ""
	}
	return path
}

// readModelCard reads a model card; an empty string when the model has none.
func readModelCard(m store.Model) (string, error) {
	path := modelCardFile(m)
	if path == "" {
		return "", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("model card of %s: %w", m.Name, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxModelCardBytes+1))
	if err != nil {
		return "", fmt.Errorf("model card %s: %w", path, err)
	}
	if len(b) > maxModelCardBytes {
		return "", fmt.Errorf("model card %s: larger than %d KiB", path, maxModelCardBytes>>10)
	}
	return string(b), nil
}

// handleModelCard shows a model's lineage and its README rendered by the sanitizing renderer.
func (s *Server) handleModelCard(w http.ResponseWriter, r *http.Request) {
	m, err := s.store.ModelByName(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	lineages, err := s.modelLineages(r.Context(), []string{m.Name})
	if err == nil && len(lineages) == 0 {
		err = fmt.Errorf("model %s: %w", m.Name, store.ErrNotFound) // deleted in between
	}
	if err != nil {
		s.error(w, r, err)
		return
	}
	vm := web.ModelCardPage{Nav: s.nav(r, "Models"), Model: lineages[0], Visitor: isVisitor(r)}
	text, err := readModelCard(m)
	if err != nil {
		s.log.Warn("model card", slog.String("model", m.Name), slog.Any("error", err))
		vm.Problem = "The model card could not be read."
	}
	if text != "" {
		vm.Card = s.md.Component(text)
	}
	s.render(w, r, http.StatusOK, web.ModelCardView(vm))
}
