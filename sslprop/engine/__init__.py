"""What runs a model: the trainer (`train`), prediction files (`predict`), the encoders' supervised pretraining (`pretrain`)."""
