package infra

import (
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// TestConstructorsRefuseNilArgs: a component called without its args says
// which one and why, instead of panicking on the first field it reads.
func TestConstructorsRefuseNilArgs(t *testing.T) {
	t.Parallel()
	ctors := map[string]func(ctx *pulumi.Context) error{
		"Lab":               func(ctx *pulumi.Context) error { _, err := NewLab(ctx, "x", nil); return err },
		"Echoserver":        func(ctx *pulumi.Context) error { _, err := NewEchoserver(ctx, "x", nil); return err },
		"EchoserverGateway": func(ctx *pulumi.Context) error { _, err := NewEchoserverGateway(ctx, "x", nil); return err },
		"EchoserverIngress": func(ctx *pulumi.Context) error { _, err := NewEchoserverIngress(ctx, "x", nil); return err },
		"GoImage":           func(ctx *pulumi.Context) error { _, err := NewGoImage(ctx, "x", nil); return err },
		"HistoryServer":     func(ctx *pulumi.Context) error { _, err := NewHistoryServer(ctx, "x", nil); return err },
		"Minio":             func(ctx *pulumi.Context) error { _, err := NewMinio(ctx, "x", nil); return err },
		"NetworkPolicies":   func(ctx *pulumi.Context) error { _, err := NewNetworkPolicies(ctx, "x", nil); return err },
		"Nginx":             func(ctx *pulumi.Context) error { _, err := NewNginx(ctx, "x", nil); return err },
		"Postgres":          func(ctx *pulumi.Context) error { _, err := NewPostgres(ctx, "x", nil); return err },
		"PriceFetcher":      func(ctx *pulumi.Context) error { _, err := NewPriceFetcher(ctx, "x", nil); return err },
		"Traefik":           func(ctx *pulumi.Context) error { _, err := NewTraefik(ctx, "x", nil); return err },
	}
	for name, ctor := range ctors {
		var got error
		err := pulumi.RunErr(func(ctx *pulumi.Context) error {
			got = ctor(ctx)
			return nil
		}, pulumi.WithMocks("lab5", "dev", newMocks()))
		if err != nil {
			t.Errorf("New%s(nil): the program failed instead of returning an error: %v", name, err)
			continue
		}
		if got == nil {
			t.Errorf("New%s(nil) returned no error", name)
		}
	}
}
