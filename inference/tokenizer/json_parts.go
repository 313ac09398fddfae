package tokenizer

import (
	"encoding/json"
	"fmt"
	"regexp"
)

// hfPreTokenizer holds the fields of every supported pre_tokenizer type.
type hfPreTokenizer struct {
	Type          string            `json:"type"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`

	AddPrefixSpace bool  `json:"add_prefix_space"` // ByteLevel
	UseRegex       *bool `json:"use_regex"`        // ByteLevel, default true

	Pattern struct { // Split
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior string `json:"behavior"`
	Invert   bool   `json:"invert"`

	IndividualDigits bool `json:"individual_digits"` // Digits
}

// preParser turns a pre_tokenizer tree into a pipeline. ByteLevel must come last:
// the pipeline works on raw text and maps bytes only in the model.
type preParser struct {
	steps     pipeline
	byteLevel bool
}

func parsePreTokenizer(raw json.RawMessage) (pipeline, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("pre_tokenizer is null: only byte-level BPE, with a ByteLevel pre-tokenizer, is supported")
	}
	var p preParser
	if err := p.parse(raw, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if !p.byteLevel {
		return nil, fmt.Errorf("pre_tokenizer has no ByteLevel step: only byte-level BPE is supported")
	}
	return p.steps, nil
}

func (p *preParser) parse(raw json.RawMessage, path string) error {
	var pt hfPreTokenizer
	if err := json.Unmarshal(raw, &pt); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if p.byteLevel {
		return fmt.Errorf("%s: a %s step after ByteLevel is not supported", path, pt.Type)
	}
	switch pt.Type {
	case "Sequence":
		for i, sub := range pt.Pretokenizers {
			if err := p.parse(sub, fmt.Sprintf("%s.pretokenizers[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case "ByteLevel":
		p.addByteLevel(pt)
		return nil
	case "Split":
		return p.addSplit(pt, path)
	case "Digits":
		p.steps = append(p.steps, digitSplit{individual: pt.IndividualDigits})
		return nil
	}
	return fmt.Errorf("%s.type %q is not supported (only Sequence, Split, Digits and ByteLevel)", path, pt.Type)
}

func (p *preParser) addByteLevel(pt hfPreTokenizer) {
	p.byteLevel = true
	if pt.AddPrefixSpace {
		p.steps = append(p.steps, prefixSpace{})
	}
	if pt.UseRegex == nil || *pt.UseRegex {
		p.steps = append(p.steps, scanSplit{gpt2Scanner})
	}
}

func (p *preParser) addSplit(pt hfPreTokenizer, path string) error {
	behavior, err := parseBehavior(pt.Behavior)
	if err != nil {
		return fmt.Errorf("%s.behavior: %v", path, err)
	}
	var m matcher
	switch {
	case pt.Pattern.Regex != nil:
		if next, ok := knownScanner(*pt.Pattern.Regex); ok && behavior == behaviorIsolated && !pt.Invert {
			p.steps = append(p.steps, scanSplit{next})
			return nil
		}
		if m, err = compilePattern(*pt.Pattern.Regex); err != nil {
			return fmt.Errorf("%s.pattern.Regex: %v", path, err)
		}
	case pt.Pattern.String != nil:
		if *pt.Pattern.String == "" {
			return fmt.Errorf("%s.pattern.String is empty", path)
		}
		m = regexpMatcher{regexp.MustCompile(regexp.QuoteMeta(*pt.Pattern.String))}
	default:
		return fmt.Errorf("%s.pattern: want {\"Regex\": ...} or {\"String\": ...}", path)
	}
	p.steps = append(p.steps, matchSplit{pattern: m, behavior: behavior, invert: pt.Invert})
	return nil
}

// hfPostProcessor holds the fields of the supported post_processor types.
type hfPostProcessor struct {
	Type          string            `json:"type"`
	Processors    []json.RawMessage `json:"processors"`
	Single        []hfTemplateItem  `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
}

type hfTemplateItem struct {
	SpecialToken *struct {
		ID string `json:"id"`
	} `json:"SpecialToken"`
	Sequence *struct {
		ID string `json:"id"`
	} `json:"Sequence"`
}

// template reads the ids the post_processor puts around a single sequence.
func (hf *hfTokenizer) template() (prefix, suffix []int, err error) {
	var found bool
	err = parsePost(hf.PostProcessor, "post_processor", func(pp hfPostProcessor, path string) error {
		if found {
			return fmt.Errorf("%s: more than one TemplateProcessing is not supported", path)
		}
		found = true
		prefix, suffix, err = singleTemplate(pp, path)
		return err
	})
	return prefix, suffix, err
}

func parsePost(raw json.RawMessage, path string, onTemplate func(hfPostProcessor, string) error) error {
	if isNull(raw) {
		return nil
	}
	var pp hfPostProcessor
	if err := json.Unmarshal(raw, &pp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch pp.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		for i, sub := range pp.Processors {
			if err := parsePost(sub, fmt.Sprintf("%s.processors[%d]", path, i), onTemplate); err != nil {
				return err
			}
		}
		return nil
	case "TemplateProcessing":
		return onTemplate(pp, path)
	}
	return fmt.Errorf("%s.type %q is not supported (only ByteLevel, TemplateProcessing and Sequence)", path, pp.Type)
}

func singleTemplate(pp hfPostProcessor, path string) (prefix, suffix []int, err error) {
	seenA := false
	for i, item := range pp.Single {
		switch {
		case item.Sequence != nil:
			seenA = true
		case item.SpecialToken != nil:
			tok, ok := pp.SpecialTokens[item.SpecialToken.ID]
			if !ok {
				return nil, nil, fmt.Errorf("%s.single[%d]: special token %q is not in special_tokens", path, i, item.SpecialToken.ID)
			}
			if seenA {
				suffix = append(suffix, tok.IDs...)
			} else {
				prefix = append(prefix, tok.IDs...)
			}
		default:
			return nil, nil, fmt.Errorf("%s.single[%d]: want SpecialToken or Sequence", path, i)
		}
	}
	return prefix, suffix, nil
}
