"""Points (积分) for good deeds, redeemed at partner shops and the town's services (爱心商家)."""
