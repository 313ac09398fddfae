package sftdata

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestCrateDocsAliases(t *testing.T) {
	c := CrateDir{Name: "fakeio", Version: "0.3.0", Dir: filepath.Join("testdata", "reexports", "fakeio-0.3.0")}
	docs, skips, err := CrateDocs(c)
	if err != nil || len(skips) != 0 {
		t.Fatalf("skips %v, err %v", skips, err)
	}
	got := map[string]string{}
	for _, m := range docs {
		for _, it := range m.Items {
			got[it.Path] = strings.Join(it.Aliases, " ")
		}
	}
	want := map[string]string{
		"fakeio::codec::Frame":               "fakeio::Datagram fakeio::Frame fakeio::prelude::Datagram",
		"fakeio::codec::Frame::len":          "fakeio::Datagram::len fakeio::Frame::len fakeio::prelude::Datagram::len",
		"fakeio::codec::encode":              "fakeio::encode",
		"fakeio::codec::decode":              "fakeio::unpack",
		"fakeio::shapes::Shape":              "fakeio::Figure fakeio::prelude::Shape",
		"fakeio::shapes::Shape::area":        "fakeio::Figure::area fakeio::prelude::Shape::area",
		"fakeio::shapes::Shape::double_area": "fakeio::Figure::double_area fakeio::prelude::Shape::double_area",
		"fakeio::shapes::Kind":               "fakeio::prelude::Kind",
		"fakeio::shapes::Area":               "fakeio::prelude::Area",
		"fakeio::shapes::perimeter":          "fakeio::prelude::perimeter",
		"fakeio::task::spawn":                "fakeio::spawn",
		"fakeio::double":                     "fakeio::util::twice",
		// Items of private modules re-exported elsewhere than the nearest public module above:
		// their path is the re-export's, and two Matchers no longer share one.
		"fakeio::thread_rng":           "",
		"fakeio::rng::Source":          "",
		"fakeio::rng::Source::next":    "",
		"fakeio::Matcher":              "",
		"fakeio::Matcher::find":        "",
		"fakeio::bytes::Matcher":       "",
		"fakeio::bytes::Matcher::find": "",
	}
	for path, w := range want {
		if g, ok := got[path]; !ok || g != w {
			t.Errorf("%s: aliases %q (item found: %v), want %q", path, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("items %v, want those of %v", got, want)
	}
}

func TestParseUseTree(t *testing.T) {
	for text, want := range map[string]string{
		" a::b::c":                          "a::b::c",
		" a::b::c as d":                     "a::b::c=d",
		" a::{b, c::{d, e as f}, }":         "a::b a::c::d a::c::e=f",
		" self::x::*":                       "self::x::*",
		" clap_derive::{self, *}":           "clap_derive::self clap_derive::*",
		" r#try::r#type as r#kind":          "try::type=kind",
		" ::std::fmt":                       "::std::fmt",
		" a::{b c}":                         "a::b",
		" a::{b, {":                         "a::b",
		" a as":                             "",
		" {{{{{{{{{{{{{{{{{{{{{{{{{{{{{x}}": "",
	} {
		var got []string
		for _, l := range parseUseTree(text) {
			s := strings.Join(l.path, "::")
			if l.glob {
				s += "::*"
			}
			if l.alias != "" {
				s += "=" + l.alias
			}
			got = append(got, s)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", text, strings.Join(got, " "), want)
		}
	}
}

func TestAbsolutePaths(t *testing.T) {
	for _, c := range []struct {
		path string
		want []string
	}{
		{"crate::a::b", []string{"k::a::b"}},
		{"self::b", []string{"k::m::n::b"}},
		{"super::super::b", []string{"k::b"}},
		{"super::super::super::b", nil},
		{"b::c", []string{"k::m::n::b::c", "k::b::c"}},
	} {
		if got := absolutePaths("k", "k::m::n", strings.Split(c.path, "::")); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.path, got, c.want)
		}
	}
}

func TestPubUses(t *testing.T) {
	src := "pub use a::b;\n" +
		"pub(crate) use a::c;\n" +
		"pub(super) use a::d;\n" +
		"use a::e;\n" +
		"// pub use a::f;\n" +
		"#[cfg(feature = \"x\")] pub use crate::g::{h as i, *};\n" +
		"pub mod m { pub use super::j; pub fn k() { pub use l::n; } }\n" +
		"macro_rules! mac { () => { pub use o::p; } }\n" +
		"republic use q::r;\n" +
		"pub use s::{t"
	var got []string
	for _, u := range pubUses("k", "k::top", src) {
		got = append(got, u.module+" "+strings.Join(u.paths, ",")+" "+u.name)
	}
	want := []string{"k::top k::top::a::b,k::a::b b", "k::top k::g::h i", "k::top k::g ", "k::top::m k::top::j j"}
	if !slices.Equal(got, want) {
		t.Errorf("pub uses:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
