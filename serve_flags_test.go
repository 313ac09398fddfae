package main

import (
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"
)

// envOf is a getenv over a fixed map.
func envOf(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestServePublicFlags(t *testing.T) {
	e := &cliEnv{getenv: envOf(nil), stdout: io.Discard, stderr: io.Discard}
	cfg, err := e.serveConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Public || len(cfg.TrustedProxies) != 0 {
		t.Fatalf("defaults: public %v, proxies %v; want off, none", cfg.Public, cfg.TrustedProxies)
	}

	cfg, err = e.serveConfig([]string{"--public", "--trusted-proxies", "10.0.0.0/8, 192.0.2.7,::ffff:198.51.100.1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("198.51.100.1/32")}
	if !cfg.Public || !slices.Equal(cfg.TrustedProxies, want) {
		t.Fatalf("flags: public %v, proxies %v; want on, %v", cfg.Public, cfg.TrustedProxies, want)
	}

	e.getenv = envOf(map[string]string{"RUSTEXPERT_PUBLIC": "true", "RUSTEXPERT_TRUSTED_PROXIES": "127.0.0.1"})
	cfg, err = e.serveConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Public || !slices.Equal(cfg.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}) {
		t.Fatalf("environment: public %v, proxies %v", cfg.Public, cfg.TrustedProxies)
	}
	if cfg, _ = e.serveConfig([]string{"--public=false"}); cfg.Public {
		t.Fatal("--public=false did not override RUSTEXPERT_PUBLIC")
	}

	_, err = e.serveConfig([]string{"--trusted-proxies", "10.0.0.0/8,proxy.example"})
	var usage usageError
	if !errors.As(err, &usage) || usage.msg != `--trusted-proxies: "proxy.example" is not an IP address or CIDR prefix` {
		t.Fatalf("bad proxy: err = %v", err)
	}
}
