// Package config reads the price-fetcher's settings from the environment
// and command-line flags (a flag wins over its variable).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/day"
	"github.com/lab5/k8s-networking/apps/price-fetcher/internal/elering"
)

// Environment variables.
const (
	EnvHistoryServerURI = "HISTORY_SERVER_URI"
	EnvEleringAPIURL    = "ELERING_API_URL"
	EnvPriceDay         = "PRICE_DAY"
)

// ErrHelp is returned when -h or -help was given.
var ErrHelp = flag.ErrHelp

// Config is a validated configuration.
type Config struct {
	// HistoryServerURI is the history-server base URL (scheme://host[:port][/prefix]).
	HistoryServerURI string
	// EleringAPIURL is the Elering API base URL.
	EleringAPIURL string
	// Day is the Estonian day to fetch; nil means tomorrow.
	Day *day.Day
}

// Error is a bad or missing setting; its message names the setting.
type Error struct {
	Setting string // e.g. HISTORY_SERVER_URI or -day
	Problem string
}

func (e *Error) Error() string { return e.Setting + ": " + e.Problem }

// Load reads args (without the program name) and the environment through
// lookupEnv (os.LookupEnv in production). Empty variables count as unset.
func Load(args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	env := func(name string) string {
		v, _ := lookupEnv(name)
		return strings.TrimSpace(v)
	}
	fs := newFlagSet(io.Discard)
	dayFlag := fs.String("day", "", "")
	historyFlag := fs.String("history-server-uri", "", "")
	eleringFlag := fs.String("elering-api-url", "", "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, ErrHelp
		}
		return Config{}, &Error{Setting: "flags", Problem: err.Error()}
	}
	if fs.NArg() > 0 {
		return Config{}, &Error{Setting: "flags", Problem: fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	pick := func(flagName string, flagVal *string, envName string) (setting, value string) {
		if set[flagName] {
			return "-" + flagName, strings.TrimSpace(*flagVal)
		}
		return envName, env(envName)
	}

	var cfg Config

	setting, v := pick("history-server-uri", historyFlag, EnvHistoryServerURI)
	if v == "" {
		return Config{}, &Error{Setting: setting, Problem: "required, e.g. http://history-server.production.svc.cluster.local:80"}
	}
	if err := checkURL(v); err != nil {
		return Config{}, &Error{Setting: setting, Problem: err.Error()}
	}
	cfg.HistoryServerURI = v

	setting, v = pick("elering-api-url", eleringFlag, EnvEleringAPIURL)
	if v == "" {
		v = elering.DefaultBaseURL
	}
	if err := checkURL(v); err != nil {
		return Config{}, &Error{Setting: setting, Problem: err.Error()}
	}
	cfg.EleringAPIURL = v

	setting, v = pick("day", dayFlag, EnvPriceDay)
	if v != "" {
		d, err := day.Parse(v)
		if err != nil {
			return Config{}, &Error{Setting: setting, Problem: err.Error()}
		}
		cfg.Day = &d
	}
	return cfg, nil
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("invalid URL %q: want http:// or https://", raw)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("invalid URL %q: no host", raw)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("invalid URL %q: must not have a query or fragment", raw)
	}
	return nil
}

func newFlagSet(out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("price-fetcher", flag.ContinueOnError)
	fs.SetOutput(out)
	return fs
}

// Usage writes the help text.
func Usage(w io.Writer) {
	fmt.Fprintf(w, `Usage: price-fetcher [-day YYYY-MM-DD] [-history-server-uri URL] [-elering-api-url URL]

Fetches Elering's Estonian spot prices for one Estonian day (default:
tomorrow in Europe/Tallinn) and posts them to the history-server.

Flags override environment variables:
  -day                 %s       day to fetch, YYYY-MM-DD (default: tomorrow)
  -history-server-uri  %s  history-server base URL (required)
  -elering-api-url     %s     Elering API base URL (default %s)

Exit codes: 0 ok, 2 configuration, 3 Elering failed, 4 prices not published
yet, 5 Elering response malformed, 6 history-server rejected, 7 history-server
unavailable.
`, EnvPriceDay, EnvHistoryServerURI, EnvEleringAPIURL, elering.DefaultBaseURL)
}
