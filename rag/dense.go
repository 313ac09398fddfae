package rag

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"rustexpert/inference/tensor"
	"rustexpert/store"
)

// Embedder turns texts into L2-normalized vectors (the app's Go encoder of
// all-MiniLM-L6-v2, or any other).
type Embedder interface {
	Embed(texts []string) ([][]float32, error)
}

// EmbedBatch is how many chunks are embedded and stored together.
const EmbedBatch = 32

// EmbedMissing embeds every chunk that has no vector from model yet and
// stores the vectors; progress, when set, gets the running count and the
// total. It returns how many chunks it embedded.
func EmbedMissing(ctx context.Context, st *store.Store, emb Embedder, model string, progress func(done, total int)) (int, error) {
	total, err := st.CountRAGPassagesToEmbed(ctx, model)
	if err != nil {
		return 0, err
	}
	done := 0
	for done < total {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		batch, err := st.RAGPassagesToEmbed(ctx, model, EmbedBatch)
		if err != nil || len(batch) == 0 {
			return done, err
		}
		if err := embedBatch(ctx, st, emb, model, batch); err != nil {
			return done, err
		}
		done += len(batch)
		if progress != nil {
			progress(done, total)
		}
	}
	return done, nil
}

func embedBatch(ctx context.Context, st *store.Store, emb Embedder, model string, batch []store.RAGPassage) error {
	texts := make([]string, len(batch))
	for i, p := range batch {
		texts[i] = passageText(p.Title, p.Text)
	}
	vectors, err := emb.Embed(texts)
	if err != nil {
		return fmt.Errorf("embedding chunks %d–%d: %w", batch[0].ChunkID, batch[len(batch)-1].ChunkID, err)
	}
	out := make([]store.RAGVector, len(batch))
	for i, p := range batch {
		out[i] = store.RAGVector{ChunkID: p.ChunkID, Vector: vectors[i]}
	}
	return st.PutRAGVectors(ctx, model, out)
}

// passageText is what a chunk's vector is made from: its section path, then its text.
func passageText(title, text string) string { return title + "\n" + text }

// Scored is a chunk with a score, higher is better.
type Scored struct {
	ChunkID int64
	Score   float64
}

// Nearest returns the k vectors most similar to q (dot product of normalized
// vectors = cosine), by brute force: a corpus of a few thousand chunks takes
// well under a millisecond.
func Nearest(vectors []store.RAGVector, q []float32, k int) []Scored {
	out := make([]Scored, 0, len(vectors))
	for _, v := range vectors {
		if len(v.Vector) != len(q) {
			continue
		}
		out = append(out, Scored{ChunkID: v.ChunkID, Score: float64(tensor.Dot(q, v.Vector))})
	}
	slices.SortFunc(out, func(a, b Scored) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ChunkID, b.ChunkID)
	})
	return out[:min(k, len(out))]
}

// RRFConstant is reciprocal-rank fusion's k: a rank r adds 1/(k+r).
const RRFConstant = 60

// Fuse merges ranked lists by reciprocal-rank fusion and returns the best k.
// Ties (a chunk first in one list against another first in the next) go to
// the earlier list: callers put the lexical ranking first, whose exact matches
// of identifiers and error codes are the surer ones.
func Fuse(k int, lists ...[]int64) []Scored {
	type entry struct {
		score float64
		first int // the earliest list that ranks the chunk
	}
	entries := map[int64]*entry{}
	for l, list := range lists {
		for rank, id := range list {
			e := entries[id]
			if e == nil {
				e = &entry{first: l}
				entries[id] = e
			}
			e.score += 1 / float64(RRFConstant+rank+1)
		}
	}
	ids := make([]int64, 0, len(entries))
	for id := range entries {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int {
		ea, eb := entries[a], entries[b]
		if c := cmp.Compare(eb.score, ea.score); c != 0 {
			return c
		}
		if c := cmp.Compare(ea.first, eb.first); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := make([]Scored, 0, min(k, len(ids)))
	for _, id := range ids[:min(k, len(ids))] {
		out = append(out, Scored{ChunkID: id, Score: entries[id].score})
	}
	return out
}
