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

func ExamplePolicy_Check() {
	cfg, err := artifacts.ParseConfig("endpoint: http://198.51.100.7:9000\nbucket: b-1\nregion: cn-hangzhou\n" +
		"credentials: {accessKeyIdEnv: GITHUB_TOKEN, accessKeySecretEnv: ARTIFACT_OSS_SECRET}\n")
	if err != nil {
		panic(err)
	}
	for _, e := range (artifacts.Policy{}).Check(cfg, nil) {
		fmt.Println(e.Field, "-", e.Detail)
	}
	// Output:
	// endpoint - plain http is not allowed by the plugin's administrator; use https
	// endpoint - host "198.51.100.7" is not in the plugin's allowed endpoints [oss-*.aliyuncs.com]
	// credentials.accessKeyIdEnv - the plugin's administrator allows only variables starting with ARTIFACT_OSS_
}
