package eci

// Pod annotations read by ECI at pod creation (prefix k8s.aliyun.com/).
const (
	// AnnotationPrefix is the prefix of every ECI pod annotation.
	AnnotationPrefix = "k8s.aliyun.com/"

	AnnotationUseSpecs         = AnnotationPrefix + "eci-use-specs"         // up to 5 specs tried in order
	AnnotationInstanceFamily   = AnnotationPrefix + "eci-instance-family"   // comma list of ECS families
	AnnotationSpotStrategy     = AnnotationPrefix + "eci-spot-strategy"     // SpotAsPriceGo | SpotWithPriceLimit
	AnnotationSpotPriceLimit   = AnnotationPrefix + "eci-spot-price-limit"  // hourly cap, ≤3 decimals
	AnnotationSpotDuration     = AnnotationPrefix + "eci-spot-duration"     // protection hours
	AnnotationSpotFallback     = AnnotationPrefix + "eci-spot-fallback"     // "true": pay-as-you-go when out of stock
	AnnotationVSwitch          = AnnotationPrefix + "eci-vswitch"           // comma list of vSwitch IDs
	AnnotationScheduleStrategy = AnnotationPrefix + "eci-schedule-strategy" // VSwitchOrdered | VSwitchRandom
	AnnotationFailStrategy     = AnnotationPrefix + "eci-fail-strategy"     // fail-back | fail-over | fail-fast
	AnnotationExtraEphemeral   = AnnotationPrefix + "eci-extra-ephemeral-storage"
	AnnotationAutoIMC          = AnnotationPrefix + "eci-auto-imc"            // "true"|"false"
	AnnotationImageCache       = AnnotationPrefix + "eci-image-cache"         // older name of eci-auto-imc
	AnnotationIMCID            = AnnotationPrefix + "eci-imc-id"              // pin one image cache
	AnnotationImageSnapshotID  = AnnotationPrefix + "eci-image-snapshot-id"   // older name of eci-imc-id
	AnnotationRAMRoleName      = AnnotationPrefix + "eci-ram-role-name"       // STS credentials for the pod
	AnnotationCustomTags       = AnnotationPrefix + "eci-custom-tags"         // k:v,k2:v2 (3 at most)
	AnnotationInstanceSpec     = AnnotationPrefix + "eci-instance-spec"       // written back by ECI: billed spec
	AnnotationInstanceID       = AnnotationPrefix + "eci-instance-id"         // written back by ECI
	AnnotationMatchedIMC       = AnnotationPrefix + "eci-matched-image-cache" // written back by ECI
)

// Placement on ECI virtual nodes.
const (
	// LabelECI on a pod (value "true") makes ACK send it to ECI.
	LabelECI = "alibabacloud.com/eci"
	// SchedulerName keeps pods off normal nodes while the virtual-node webhook is briefly unavailable.
	SchedulerName = "eci-scheduler"
	// NodeLabelType/NodeTypeVirtualKubelet select virtual nodes by nodeSelector.
	NodeLabelType          = "type"
	NodeTypeVirtualKubelet = "virtual-kubelet"
	// TaintKeyProvider is the taint on virtual nodes (value alibabacloud, effect NoSchedule).
	TaintKeyProvider = "virtual-kubelet.io/provider"
)

// Resource accounting.
const (
	// EnvResourceIgnore on a container (value "TRUE") leaves it out of ECI's spec computation.
	EnvResourceIgnore = "__ECI_RESOURCE_IGNORE__"
	// ResourceGPU is the extended resource name of NVIDIA GPUs.
	ResourceGPU = "nvidia.com/gpu"
	// MaxSpecs is how many specs eci-use-specs may list.
	MaxSpecs = 5
	// MaxCustomTags is how many tags eci-custom-tags may carry.
	MaxCustomTags = 3
)

// Fluid serverless sidecar injection labels.
const (
	// LabelFluidSidecarTarget (value "eci") asks ack-fluid to inject the FUSE sidecar.
	LabelFluidSidecarTarget = "alibabacloud.com/fluid-sidecar-target"
	// LabelFluidServerlessInject (value "true") is the open-source Fluid equivalent.
	LabelFluidServerlessInject = "serverless.fluid.io/inject"
)
