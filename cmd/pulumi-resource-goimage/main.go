// Command pulumi-resource-goimage serves the goimage resource provider
// (provider/goimage) to the Pulumi engine. hack/tools.sh builds it into
// .tools/bin and Pulumi.yaml registers it for this project.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/lab5/k8s-networking/provider/goimage"
)

func main() {
	prov, err := goimage.Provider()
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
	if err := prov.Run(context.Background(), goimage.Name, goimage.Version); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}
