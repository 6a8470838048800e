package infra

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Validation of the stack configuration: the typed reader that collects every
// problem with its key, and the checks of values the API server would refuse.

// validateScaling checks the MinIO and history-server scaling keys. The
// autoscaler's keys are checked even while it is off, so that a typo shows
// up before the day it is switched on.
func validateScaling(r *configReader, c *Config) {
	if !r.failed(keyMinioReplicas) {
		if err := validateMinioReplicas(c.MinioReplicas); err != nil {
			r.fail(keyMinioReplicas, "%v", err)
		}
	}
	minOK := !r.failed(keyHistoryServerMinReplicas)
	if minOK && (c.HistoryServerMinReplicas < 1 || c.HistoryServerMinReplicas > maxHistoryServerReplicas) {
		r.fail(keyHistoryServerMinReplicas, "must be between 1 and %d, got %d", maxHistoryServerReplicas, c.HistoryServerMinReplicas)
		minOK = false
	}
	if !r.failed(keyHistoryServerMaxReplicas) {
		switch {
		case c.HistoryServerMaxReplicas < 1 || c.HistoryServerMaxReplicas > maxHistoryServerReplicas:
			r.fail(keyHistoryServerMaxReplicas, "must be between 1 and %d, got %d", maxHistoryServerReplicas, c.HistoryServerMaxReplicas)
		case minOK && c.HistoryServerMaxReplicas < c.HistoryServerMinReplicas:
			r.fail(keyHistoryServerMaxReplicas, "must not be below %s (%d), got %d",
				keyHistoryServerMinReplicas, c.HistoryServerMinReplicas, c.HistoryServerMaxReplicas)
		}
	}
	// Utilization is relative to the CPU request, which the limit exceeds,
	// so targets above 100% are meaningful; below 10% the HPA would scale
	// on noise.
	if !r.failed(keyHistoryServerCPUTarget) && (c.HistoryServerCPUTarget < 10 || c.HistoryServerCPUTarget > 1000) {
		r.fail(keyHistoryServerCPUTarget, "must be a percentage of the CPU request between 10 and 1000, got %d", c.HistoryServerCPUTarget)
	}
}

// parseExceptCIDRs parses the comma-separated except list of an ipBlock
// whose cidr is 0.0.0.0/0. The API server requires each entry to be a CIDR
// strictly inside 0.0.0.0/0 (so not 0.0.0.0/0 itself) and of the same IP
// family; host bits must be zero (10.1.2.3/8 is a typo more often than
// not, and the API server normalises or rejects it depending on version).
func parseExceptCIDRs(s string) ([]string, error) {
	var out []string
	seen := map[netip.Prefix]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		switch {
		case err != nil:
			return nil, fmt.Errorf("must be a comma-separated list of IPv4 CIDRs such as %s, got %q", DefaultInternetEgressExcept, f)
		case !p.Addr().Is4():
			return nil, fmt.Errorf("must list IPv4 CIDRs (the ipBlock is 0.0.0.0/0), got %q", f)
		case p.Bits() == 0:
			return nil, fmt.Errorf("must not contain %q: excepting everything leaves no internet to reach", f)
		case p.Masked() != p:
			return nil, fmt.Errorf("has host bits set in %q (did you mean %s?)", f, p.Masked())
		case seen[p]:
			return nil, fmt.Errorf("lists %q twice", f)
		}
		seen[p] = true
		out = append(out, p.String())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("must list at least one CIDR (default %s)", DefaultInternetEgressExcept)
	}
	return out, nil
}

// validateSchedule checks a CronJob schedule: a macro or five fields. The
// time zone comes from spec.timeZone, so CRON_TZ=/TZ= prefixes (rejected by
// the API server when timeZone is set) are refused here.
func validateSchedule(s string) error {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		return fmt.Errorf("must not carry a TZ= prefix: the CronJob's timeZone is %s", PriceFetcherTimeZone)
	}
	if cronMacros[s] {
		return nil
	}
	fields := strings.Fields(s)
	if len(fields) != 5 {
		return fmt.Errorf("must be a cron expression with 5 fields (minute hour day-of-month month day-of-week), got %q", s)
	}
	for _, f := range fields {
		if !cronFieldRe.MatchString(f) {
			return fmt.Errorf("has an invalid field %q in %q", f, s)
		}
	}
	return nil
}

// configReader reads typed values and collects errors.
type configReader struct {
	ctx     *pulumi.Context
	project string
	errs    []error
	bad     map[string]bool
}

func (r *configReader) key(k string) string { return r.project + ":" + k }

func (r *configReader) fail(k, format string, args ...any) {
	if r.bad == nil {
		r.bad = map[string]bool{}
	}
	r.bad[k] = true
	r.errs = append(r.errs, fmt.Errorf("%s %s", r.key(k), fmt.Sprintf(format, args...)))
}

func (r *configReader) failed(k string) bool { return r.bad[k] }

func (r *configReader) raw(k string) (string, bool) {
	v, ok := r.ctx.GetConfig(r.key(k))
	if !ok {
		return "", false
	}
	return strings.TrimSpace(v), true
}

func (r *configReader) str(k, def string) string {
	if v, ok := r.raw(k); ok && v != "" {
		return v
	}
	return def
}

func (r *configReader) image(k, def string) string {
	v := r.str(k, def)
	if !imageRe.MatchString(v) || strings.Contains(v, "://") {
		r.fail(k, "must be a container image reference such as registry/name:tag, got %q", v)
	}
	return v
}

func (r *configReader) integer(k string, def int) int {
	return parsed(r, k, def, strconv.Atoi, "an integer")
}

func (r *configReader) boolean(k string, def bool) bool {
	return parsed(r, k, def, strconv.ParseBool, "true or false")
}

// parsed is key k read with parse; def when unset or empty, and def with a
// failure ("must be <what>") when parse refuses it.
func parsed[T any](r *configReader, k string, def T, parse func(string) (T, error), what string) T {
	v, ok := r.raw(k)
	if !ok || v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil {
		r.fail(k, "must be %s, got %q", what, v)
		return def
	}
	return x
}
