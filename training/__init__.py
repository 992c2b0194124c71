"""Training commands: topic heads from labelled files (`taxonomy train|eval`, topics.py) and the encoder
fine-tuned on same-story pairs (`encoder finetune`, story_encoder.py).

Tools around the models in taggers/; they read labelled files, not the stream, and flows/ never imports them.
"""
