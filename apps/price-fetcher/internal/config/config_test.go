package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const hs = "http://history-server.production.svc.cluster.local:80"

func TestDefaults(t *testing.T) {
	cfg, err := Load(nil, envOf(map[string]string{EnvHistoryServerURI: hs}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistoryServerURI != hs || cfg.EleringAPIURL != "https://dashboard.elering.ee" || cfg.Day != nil {
		t.Fatalf("%+v", cfg)
	}
}

func TestEnvAndFlags(t *testing.T) {
	env := envOf(map[string]string{
		EnvHistoryServerURI: " http://hs:8080/ ",
		EnvEleringAPIURL:    "http://127.0.0.1:9999",
		EnvPriceDay:         "2024-10-01",
	})
	cfg, err := Load(nil, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistoryServerURI != "http://hs:8080/" || cfg.EleringAPIURL != "http://127.0.0.1:9999" || cfg.Day == nil || cfg.Day.String() != "2024-10-01" {
		t.Fatalf("%+v", cfg)
	}
	// Flags win.
	cfg, err = Load([]string{"-day", "2025-03-30", "-history-server-uri=https://other", "--elering-api-url", "https://e.example/x"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistoryServerURI != "https://other" || cfg.EleringAPIURL != "https://e.example/x" || cfg.Day.String() != "2025-03-30" {
		t.Fatalf("%+v", cfg)
	}
	// A good flag hides a bad variable.
	if _, err := Load([]string{"-day=2025-03-30"}, envOf(map[string]string{EnvHistoryServerURI: hs, EnvPriceDay: "garbage"})); err != nil {
		t.Fatal(err)
	}
}

func TestErrors(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		env     map[string]string
		setting string
	}{
		{"missing history", nil, nil, "HISTORY_SERVER_URI"},
		{"empty history", nil, map[string]string{EnvHistoryServerURI: "  "}, "HISTORY_SERVER_URI"},
		{"history without scheme", nil, map[string]string{EnvHistoryServerURI: "history-server:80"}, "HISTORY_SERVER_URI"},
		{"history bad scheme", nil, map[string]string{EnvHistoryServerURI: "ftp://history-server"}, "HISTORY_SERVER_URI"},
		{"history no host", nil, map[string]string{EnvHistoryServerURI: "http://"}, "HISTORY_SERVER_URI"},
		{"history bad port", nil, map[string]string{EnvHistoryServerURI: "http://hs:eighty"}, "HISTORY_SERVER_URI"},
		{"history with query", nil, map[string]string{EnvHistoryServerURI: "http://hs/?day=x"}, "HISTORY_SERVER_URI"},
		{"history garbage", nil, map[string]string{EnvHistoryServerURI: "http://[::1"}, "HISTORY_SERVER_URI"},
		{"history flag", []string{"-history-server-uri", "nope"}, map[string]string{EnvHistoryServerURI: hs}, "-history-server-uri"},
		{"elering bad", nil, map[string]string{EnvHistoryServerURI: hs, EnvEleringAPIURL: "dashboard.elering.ee"}, "ELERING_API_URL"},
		{"bad day", nil, map[string]string{EnvHistoryServerURI: hs, EnvPriceDay: "2024-13-01"}, "PRICE_DAY"},
		{"bad day format", nil, map[string]string{EnvHistoryServerURI: hs, EnvPriceDay: "01.10.2024"}, "PRICE_DAY"},
		{"bad day flag", []string{"-day", "tomorrow"}, map[string]string{EnvHistoryServerURI: hs}, "-day"},
		{"empty day flag", []string{"-day="}, map[string]string{EnvHistoryServerURI: hs, EnvPriceDay: "2024-10-01"}, ""},
		{"unknown flag", []string{"-verbose"}, map[string]string{EnvHistoryServerURI: hs}, "flags"},
		{"positional", []string{"2024-10-01"}, map[string]string{EnvHistoryServerURI: hs}, "flags"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Load(c.args, envOf(c.env))
			if c.setting == "" { // explicit empty flag means tomorrow
				if err != nil || cfg.Day != nil {
					t.Fatalf("cfg %+v err %v", cfg, err)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *Error, got %v (cfg %+v)", err, cfg)
			}
			if ce.Setting != c.setting || !strings.HasPrefix(err.Error(), c.setting+": ") {
				t.Fatalf("error %q does not name %s", err, c.setting)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	if _, err := Load([]string{"-h"}, envOf(nil)); !errors.Is(err, ErrHelp) {
		t.Fatalf("got %v", err)
	}
	var b bytes.Buffer
	Usage(&b)
	for _, s := range []string{"HISTORY_SERVER_URI", "PRICE_DAY", "ELERING_API_URL", "-day"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("usage lacks %s", s)
		}
	}
}
