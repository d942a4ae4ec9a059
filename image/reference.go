package image

import (
	"fmt"

	"github.com/distribution/reference"
)

// CheckReference refuses what Docker's grammar for image names refuses
// before anything looks the name up: go-containerregistry alone takes
// "../../etc" for an image on a registry named "..", which would send a DNS
// query for it. A name is [registry[:port]/]path[:tag][@digest], its path
// components lowercase letters and digits joined by . _ __ or dashes.
func CheckReference(ref string) error {
	if _, err := reference.ParseNormalizedNamed(ref); err != nil {
		return fmt.Errorf("image reference %q: %v: expected name[:tag] or name@sha256:digest, like busybox:1.36", ref, err)
	}
	return nil
}
