package osstest_test

import (
	"fmt"

	"github.com/argo-eci/argo-eci/internal/osstest"
)

func ExampleStart() {
	s, err := osstest.Start(osstest.Options{Remote: osstest.Remote{Off: true}})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.Inject(osstest.Fault{Kind: osstest.FaultStatus, Op: "PutObject", Count: 2, Status: 503})
	open, _ := s.OpenUploads(osstest.DefaultBucket)
	fmt.Println(s.Region(), len(open))
	// Output: cn-hangzhou 0
}
