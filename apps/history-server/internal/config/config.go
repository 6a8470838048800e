// Package config reads the history-server's settings from the environment
// and validates them. Every error names the variable at fault and never
// repeats a secret.
package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Environment variable names.
const (
	EnvMinIOURI       = "MINIO_URI"
	EnvMinIOAccessKey = "MINIO_ACCESS_KEY"
	EnvMinIOSecretKey = "MINIO_SECRET_KEY"
	EnvMinIOBucket    = "MINIO_BUCKET"
	EnvMinIORegion    = "MINIO_REGION"
	EnvPort           = "PORT"
	EnvLogLevel       = "LOG_LEVEL"
)

// Defaults for the optional settings.
const (
	DefaultBucket = "price-data"
	DefaultPort   = 8080
)

// Config is the validated configuration.
type Config struct {
	// MinIOEndpoint is host[:port] without scheme, as minio-go wants it.
	MinIOEndpoint string
	// MinIOSecure selects TLS (https:// in MINIO_URI).
	MinIOSecure bool
	AccessKey   string
	SecretKey   string
	Bucket      string
	// Region is empty unless MINIO_REGION is set; minio-go then asks the
	// server for the bucket's region.
	Region   string
	Port     int
	LogLevel slog.Level
}

// Addr is the listen address for the HTTP server.
func (c Config) Addr() string { return ":" + strconv.Itoa(c.Port) }

// LogValue logs the configuration without its secrets.
func (c Config) LogValue() slog.Value {
	scheme := "http"
	if c.MinIOSecure {
		scheme = "https"
	}
	return slog.GroupValue(
		slog.String("minio", scheme+"://"+c.MinIOEndpoint),
		slog.String("bucket", c.Bucket),
		slog.String("region", c.Region),
		slog.Int("port", c.Port),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// Error is a problem with one environment variable.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// Load reads the configuration through lookup (os.LookupEnv in
// production). An empty value counts as unset.
func Load(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	var c Config
	var err error

	uri := get(EnvMinIOURI)
	if uri == "" {
		return Config{}, &Error{EnvMinIOURI, "is required (e.g. minio:9000 or http://minio:9000)"}
	}
	if c.MinIOEndpoint, c.MinIOSecure, err = parseMinIOURI(uri); err != nil {
		return Config{}, &Error{EnvMinIOURI, err.Error()}
	}

	if c.AccessKey, err = secret(get(EnvMinIOAccessKey)); err != nil {
		return Config{}, &Error{EnvMinIOAccessKey, err.Error()}
	}
	if c.SecretKey, err = secret(get(EnvMinIOSecretKey)); err != nil {
		return Config{}, &Error{EnvMinIOSecretKey, err.Error()}
	}

	c.Bucket = get(EnvMinIOBucket)
	if c.Bucket == "" {
		c.Bucket = DefaultBucket
	}
	if err := checkBucketName(c.Bucket); err != nil {
		return Config{}, &Error{EnvMinIOBucket, err.Error()}
	}

	c.Region = get(EnvMinIORegion)
	if strings.TrimSpace(c.Region) != c.Region || strings.ContainsAny(c.Region, "/ \t\r\n") {
		return Config{}, &Error{EnvMinIORegion, fmt.Sprintf("%q is not a region name (e.g. us-east-1)", c.Region)}
	}

	c.Port = DefaultPort
	if p := get(EnvPort); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Config{}, &Error{EnvPort, fmt.Sprintf("%q is not a TCP port number (1-65535)", truncate(p))}
		}
		c.Port = n
	}

	c.LogLevel = slog.LevelInfo
	if l := get(EnvLogLevel); l != "" {
		if err := c.LogLevel.UnmarshalText([]byte(l)); err != nil {
			return Config{}, &Error{EnvLogLevel, fmt.Sprintf("%q is not one of debug, info, warn, error", truncate(l))}
		}
	}
	return c, nil
}

// parseMinIOURI accepts host[:port], http://host[:port] and
// https://host[:port] (a trailing slash is tolerated). The scheme selects
// TLS; without one, plain HTTP is used.
func parseMinIOURI(raw string) (endpoint string, secure bool, err error) {
	bad := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%q %s; want host:port, http://host:port or https://host:port", truncate(raw), why)
	}
	if strings.TrimSpace(raw) != raw {
		return bad("has leading or trailing whitespace")
	}
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		switch strings.ToLower(s[:i]) {
		case "http":
		case "https":
			secure = true
		default:
			return bad("has an unsupported scheme")
		}
	} else {
		s = "http://" + s
	}
	u, perr := url.Parse(s)
	if perr != nil {
		return bad("is not a valid URI")
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("must not contain credentials (use MINIO_ACCESS_KEY and MINIO_SECRET_KEY)")
	case u.Path != "" && u.Path != "/":
		return bad("must not contain a path")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return bad("must not contain a query or fragment")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("has an invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("has an empty port")
	}
	host := u.Hostname()
	if strings.Contains(host, ":") { // IPv6 literal
		if net.ParseIP(host) == nil {
			return bad("has an invalid IPv6 address")
		}
	}
	return u.Host, secure, nil
}

// secret checks a credential without ever echoing it.
func secret(v string) (string, error) {
	if v == "" {
		return "", fmt.Errorf("is required")
	}
	if strings.TrimSpace(v) != v {
		return "", fmt.Errorf("has leading or trailing whitespace (a trailing newline in the secret?)")
	}
	return v, nil
}

// checkBucketName applies the S3 bucket naming rules: 3-63 characters of
// lower-case letters, digits, dots and hyphens, starting and ending with a
// letter or digit, no "..", not an IPv4 address.
func checkBucketName(b string) error {
	bad := func(why string) error {
		return fmt.Errorf("%q is not a valid bucket name: %s", truncate(b), why)
	}
	if len(b) < 3 || len(b) > 63 {
		return bad("must be 3-63 characters long")
	}
	for i := 0; i < len(b); i++ {
		if c := b[i]; !isAlnum(c) && c != '.' && c != '-' {
			return bad("only lower-case letters, digits, '.' and '-' are allowed")
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return bad("must start and end with a letter or digit")
	}
	if strings.Contains(b, "..") || strings.Contains(b, ".-") || strings.Contains(b, "-.") {
		return bad("must not contain '..', '.-' or '-.'")
	}
	if net.ParseIP(b) != nil {
		return bad("must not be an IP address")
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
