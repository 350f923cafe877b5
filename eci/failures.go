package eci

// Keys for ECI's failure handling, spot reclaim and what ECI reports when it gives up on a pod.
const (
	// AnnotationMaxPendingMinute bounds how long a pod may stay Pending for stock (10–1440, default 240).
	AnnotationMaxPendingMinute = AnnotationPrefix + "eci-max-pending-minute"
	// AnnotationSpotReleaseStrategy set to SpotReleaseAPIEvict makes ECI evict a reclaimed spot pod
	// through the Eviction API (PDBs and grace period honoured) instead of failing it with BidFailed.
	AnnotationSpotReleaseStrategy = AnnotationPrefix + "eci-spot-release-strategy"
	// SpotReleaseAPIEvict is the value of AnnotationSpotReleaseStrategy that asks for an eviction.
	SpotReleaseAPIEvict = "api-evict"

	// FailStrategyFailFast makes a pod that cannot be created fail at once with ProviderFailed.
	FailStrategyFailFast = "fail-fast"
	// FailStrategyFailBack (ECI's default) and FailStrategyFailOver keep the pod Pending and retry.
	FailStrategyFailBack = "fail-back"
	FailStrategyFailOver = "fail-over"
	// DefaultMaxPendingMinutes is ECI's default for eci-max-pending-minute.
	DefaultMaxPendingMinutes = 240

	// SpotStrategyAsPriceGo and SpotStrategyWithPriceLimit are the values of eci-spot-strategy.
	SpotStrategyAsPriceGo      = "SpotAsPriceGo"
	SpotStrategyWithPriceLimit = "SpotWithPriceLimit"

	// ReasonProviderFailed is the pod status reason when ECI could not create the instance.
	ReasonProviderFailed = "ProviderFailed"
	// ReasonBidFailed is the pod status reason after a spot instance was released.
	ReasonBidFailed = "BidFailed"
	// ReasonNoStock is ECI's reason (condition ContainerInstanceCreated, event) for a stock-out.
	ReasonNoStock = "NoStock"
	// ReasonOOMKilled is the container termination reason when memory use exceeded the limit.
	ReasonOOMKilled = "OOMKilled"
	// EventSpotToBeReleased is the event ECI emits about 3 minutes before releasing a spot instance.
	EventSpotToBeReleased = "SpotToBeReleased"
	// ConditionContainerInstanceExpired (status True) marks a spot pod about to be released.
	ConditionContainerInstanceExpired = "ContainerInstanceExpired"
	// ConditionContainerInstanceCreated reports the creation of the instance (reason NoStock, ...).
	ConditionContainerInstanceCreated = "ContainerInstanceCreated"
)

// Spot prices: Alibaba Cloud publishes spot discounts of 30–90 % off the pay-as-you-go price, so a
// spot hour costs between SpotPriceRatioMin and SpotPriceRatioMax of the list price.
const (
	SpotPriceRatioMin = 0.1
	SpotPriceRatioMax = 0.7
)
