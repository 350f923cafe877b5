package artifacts_test

import (
	"fmt"

	"github.com/argo-eci/argo-eci/artifacts"
)

func ExampleParseConfig() {
	cfg, err := artifacts.ParseConfig(`
endpoint: oss-cn-hangzhou-internal.aliyuncs.com
bucket: argo-artifacts
partSize: 16Mi
credentials: {accessKeyIdEnv: ARTIFACTS_AK, accessKeySecretEnv: ARTIFACTS_SK}
`)
	if err != nil {
		panic(err)
	}
	fmt.Println(cfg.Region, cfg.PartSize, cfg.Parallel)

	_, err = artifacts.ParseConfig("endpoint: oss-cn-hangzhou.aliyuncs.com\nbucket: b-1\nparallel: 1000\n")
	fmt.Println(err)
	// Output:
	// cn-hangzhou 16777216 16
	// configuration: parallel: Invalid value: 1000: want between 1 and 64
}
