// Command lab5 is the Pulumi program of lab 5 (Kubernetes networking): it
// loads the stack configuration, declares the lab's objects (infra.NewLab)
// and exports the stack outputs.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lab5/k8s-networking/infra"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		cfg, err := infra.LoadConfig(ctx)
		if err != nil {
			return err
		}
		// skipServiceAwait first: the Lab's own transformation, which
		// adds DeletedWith, must come last (infra/deletion.go).
		lab, err := infra.NewLab(ctx, "lab5", cfg,
			pulumi.Transformations([]pulumi.ResourceTransformation{skipServiceAwait}))
		if err != nil {
			return err
		}
		// historyServerUrl, minioUrl, ingressUrl, ingressHttpNodePort,
		// namespaces and, with labTestResources, echoserverNodePortUrl.
		for name, value := range lab.Outputs() {
			ctx.Export(name, value)
		}
		return nil
	})
}
