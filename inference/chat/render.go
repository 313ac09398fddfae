package chat

import (
	"errors"
	"fmt"
	"strings"
)

func chatMLTurn(b *strings.Builder, role, content string) {
	b.WriteString("<|im_start|>" + role + "\n" + content + "<|im_end|>\n")
}

func (t *Template) renderChatML(b *strings.Builder, msgs []Message, gen bool) {
	if t.DefaultSystem != "" && msgs[0].Role != "system" {
		chatMLTurn(b, "system", t.DefaultSystem)
	}
	for i, m := range msgs {
		if t.Variant == VariantQwen25 && m.Role == "tool" {
			qwenToolResult(b, msgs, i)
			continue
		}
		if t.Variant == VariantQwen25 && m.Role != "user" && m.Role != "system" && m.Role != "assistant" {
			continue // the Qwen2.5 template drops other roles
		}
		chatMLTurn(b, m.Role, m.Content)
	}
	if gen {
		b.WriteString("<|im_start|>assistant\n")
	}
}

// qwenToolResult writes message i, a tool result: consecutive results share one
// user turn.
func qwenToolResult(b *strings.Builder, msgs []Message, i int) {
	if i == 0 || msgs[i-1].Role != "tool" {
		b.WriteString("<|im_start|>user")
	}
	b.WriteString("\n<tool_response>\n" + msgs[i].Content + "\n</tool_response>")
	if i == len(msgs)-1 || msgs[i+1].Role != "tool" {
		b.WriteString("<|im_end|>\n")
	}
}

func llama3Header(b *strings.Builder, role string) {
	b.WriteString("<|start_header_id|>" + role + "<|end_header_id|>\n\n")
}

func (t *Template) renderLlama3(b *strings.Builder, msgs []Message, gen bool) {
	b.WriteString(t.BOS)
	if t.Variant == VariantLlama31 {
		system := ""
		if msgs[0].Role == "system" {
			system = pyStrip(msgs[0].Content)
			msgs = msgs[1:]
		}
		llama3Header(b, "system")
		b.WriteString("Cutting Knowledge Date: December 2023\nToday Date: " + t.today() + "\n\n" + system + "<|eot_id|>")
	}
	for _, m := range msgs {
		if t.Variant == VariantLlama31 && (m.Role == "tool" || m.Role == "ipython") {
			// The template writes a string result through tojson.
			llama3Header(b, "ipython")
			b.WriteString(pyJSONString(m.Content) + "<|eot_id|>")
			continue
		}
		llama3Header(b, m.Role)
		b.WriteString(pyStrip(m.Content) + "<|eot_id|>")
	}
	if gen {
		llama3Header(b, "assistant")
	}
}

// errAlternate is the error of the Llama 2 and Mistral templates.
func errAlternate() error {
	return errors.New("chat: Conversation roles must alternate user/assistant/user/assistant/...")
}

func (t *Template) renderLlama2(b *strings.Builder, msgs []Message) error {
	if t.Variant == VariantMistral {
		return t.renderMistral(b, msgs)
	}
	system, hasSystem := "", false
	if msgs[0].Role == "system" {
		system, hasSystem = msgs[0].Content, true
		msgs = msgs[1:]
	}
	for i, m := range msgs {
		if (m.Role == "user") != (i%2 == 0) {
			return errAlternate()
		}
		content := m.Content
		if i == 0 && hasSystem {
			content = "<<SYS>>\n" + system + "\n<</SYS>>\n\n" + content
		}
		switch m.Role {
		case "user":
			b.WriteString(t.BOS + "[INST] " + pyStrip(content) + " [/INST]")
		case "assistant":
			b.WriteString(" " + pyStrip(content) + " " + t.EOS)
		}
	}
	return nil
}

func (t *Template) renderMistral(b *strings.Builder, msgs []Message) error {
	b.WriteString(t.BOS)
	for i, m := range msgs {
		if (m.Role == "user") != (i%2 == 0) {
			return errAlternate()
		}
		switch m.Role {
		case "user":
			b.WriteString("[INST] " + m.Content + " [/INST]")
		case "assistant":
			b.WriteString(m.Content + t.EOS + t.AssistantSuffix)
		default:
			return fmt.Errorf("chat: Only user and assistant roles are supported! (got %q)", m.Role)
		}
	}
	return nil
}

// pyJSONString quotes s as Python's json.dumps(s, ensure_ascii=False) does, which
// is what the tojson filter of transformers' template environment calls.
func pyJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
