// Command registry is CNCF Distribution's registry (cmd/registry) with only
// what the local control plane uses: the filesystem storage driver and
// htpasswd authentication. Leaving out the S3, Azure and GCS drivers keeps
// the cold build short.
package main

import (
	"os"

	"github.com/distribution/distribution/v3/registry"
	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
)

func main() {
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
