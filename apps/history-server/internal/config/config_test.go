package config

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func base() map[string]string {
	return map[string]string{
		EnvMinIOURI:       "minio:9000",
		EnvMinIOAccessKey: "access",
		EnvMinIOSecretKey: "secret-key",
	}
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{MinIOEndpoint: "minio:9000", AccessKey: "access", SecretKey: "secret-key",
		Bucket: "price-data", Port: 8080, LogLevel: slog.LevelInfo}
	if c != want {
		t.Fatalf("Load = %+v, want %+v", c, want)
	}
	if c.Addr() != ":8080" {
		t.Fatalf("Addr = %q", c.Addr())
	}
}

func TestLoadMinIOURIForms(t *testing.T) {
	cases := []struct {
		uri      string
		endpoint string
		secure   bool
	}{
		{"minio:9000", "minio:9000", false},
		{"http://minio:9000", "minio:9000", false},
		{"http://minio:9000/", "minio:9000", false},
		{"https://minio.example.org:9000", "minio.example.org:9000", true},
		{"HTTPS://minio", "minio", true},
		{"minio", "minio", false},
		{"minio.production.svc.cluster.local:9000", "minio.production.svc.cluster.local:9000", false},
		{"127.0.0.1:9000", "127.0.0.1:9000", false},
		{"[::1]:9000", "[::1]:9000", false},
		{"http://[::1]:9000", "[::1]:9000", false},
	}
	for _, c := range cases {
		kv := base()
		kv[EnvMinIOURI] = c.uri
		got, err := Load(env(kv))
		if err != nil {
			t.Errorf("%q: %v", c.uri, err)
			continue
		}
		if got.MinIOEndpoint != c.endpoint || got.MinIOSecure != c.secure {
			t.Errorf("%q: endpoint %q secure %v, want %q %v", c.uri, got.MinIOEndpoint, got.MinIOSecure, c.endpoint, c.secure)
		}
	}
}

func TestLoadOptionalSettings(t *testing.T) {
	kv := base()
	kv[EnvMinIOBucket] = "prices.v2-test"
	kv[EnvPort] = "9090"
	kv[EnvLogLevel] = "debug"
	kv[EnvMinIORegion] = "eu-north-1"
	c, err := Load(env(kv))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bucket != "prices.v2-test" || c.Port != 9090 || c.LogLevel != slog.LevelDebug || c.Region != "eu-north-1" {
		t.Fatalf("Load = %+v", c)
	}
	kv[EnvMinIOBucket], kv[EnvPort] = "", "" // empty counts as unset
	if c, err = Load(env(kv)); err != nil || c.Bucket != DefaultBucket || c.Port != DefaultPort {
		t.Fatalf("empty optional values: %+v %v", c, err)
	}
}

// Each invalid setting is reported with the variable's name, and secrets
// never appear in the message.
func TestLoadErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		name, key, value string
	}{
		{"uri missing", EnvMinIOURI, ""},
		{"uri scheme", EnvMinIOURI, "ftp://minio:9000"},
		{"uri path", EnvMinIOURI, "http://minio:9000/bucket"},
		{"uri query", EnvMinIOURI, "http://minio:9000?x=1"},
		{"uri user", EnvMinIOURI, "http://user:pw@minio:9000"},
		{"uri port", EnvMinIOURI, "minio:99999"},
		{"uri port letters", EnvMinIOURI, "minio:abc"},
		{"uri empty port", EnvMinIOURI, "minio:"},
		{"uri no host", EnvMinIOURI, "http://:9000"},
		{"uri space", EnvMinIOURI, " minio:9000"},
		{"uri only scheme", EnvMinIOURI, "http://"},
		{"access key missing", EnvMinIOAccessKey, ""},
		{"secret missing", EnvMinIOSecretKey, ""},
		{"secret newline", EnvMinIOSecretKey, "hunter2-secret\n"},
		{"bucket upper", EnvMinIOBucket, "Price-Data"},
		{"bucket short", EnvMinIOBucket, "pd"},
		{"bucket underscore", EnvMinIOBucket, "price_data"},
		{"bucket dash end", EnvMinIOBucket, "price-"},
		{"bucket ip", EnvMinIOBucket, "192.168.1.1"},
		{"bucket dots", EnvMinIOBucket, "price..data"},
		{"port letters", EnvPort, "http"},
		{"port zero", EnvPort, "0"},
		{"port big", EnvPort, "65536"},
		{"log level", EnvLogLevel, "loud"},
		{"region space", EnvMinIORegion, "eu north"},
	}
	for _, c := range cases {
		kv := base()
		kv[c.key] = c.value
		_, err := Load(env(kv))
		if err == nil {
			t.Errorf("%s: accepted %s=%q", c.name, c.key, c.value)
			continue
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != c.key {
			t.Errorf("%s: error %v does not name %s", c.name, err, c.key)
		}
		if !strings.HasPrefix(err.Error(), c.key+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: message %q is not one line starting with the variable", c.name, err)
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret-key") {
			t.Errorf("%s: message leaks a secret: %q", c.name, err)
		}
	}
}

func TestLogValueHidesSecrets(t *testing.T) {
	c, err := Load(env(base()))
	if err != nil {
		t.Fatal(err)
	}
	s := c.LogValue().String()
	if strings.Contains(s, "secret-key") || strings.Contains(s, "access") {
		t.Fatalf("LogValue shows credentials: %s", s)
	}
}
