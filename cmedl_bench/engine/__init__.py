"""Training machinery: devices, losses, augmentation, the fit loop, sliding-window inference."""
