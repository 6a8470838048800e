// Command pulumi-resource-kubernetes serves the Kubernetes resource provider.
//
// The upstream main package embeds two generated files that the published
// module does not carry; hack/tools.sh writes them next to this file from the
// module's schema.json and terraform-mapping.json before building.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var pulumiSchema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, pulumiSchema, terraformMapping)
}
