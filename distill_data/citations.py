"""BibTeX of the work every dataset card cites."""

ZEPHYR = """@misc{tunstall2023zephyr,
  title={Zephyr: Direct Distillation of LM Alignment},
  author={Lewis Tunstall and Edward Beeching and Nathan Lambert and Nazneen Rajani and Kashif Rasul and Younes Belkada
          and Shengyi Huang and Leandro von Werra and Clémentine Fourrier and Nathan Habib and Nathan Sarrazin
          and Omar Sanseviero and Alexander M. Rush and Thomas Wolf},
  year={2023},
  eprint={2310.16944},
  archivePrefix={arXiv},
  primaryClass={cs.LG}
}"""

ULTRACHAT = """@article{ding2023enhancing,
  title={Enhancing Chat Language Models by Scaling High-quality Instructional Conversations},
  author={Ding, Ning and Chen, Yulin and Xu, Bokai and Qin, Yujia and Zheng, Zhi and Hu, Shengding and Liu, Zhiyuan
          and Sun, Maosong and Zhou, Bowen},
  journal={arXiv preprint arXiv:2305.14233},
  year={2023}
}"""

ULTRAFEEDBACK = """@misc{cui2023ultrafeedback,
  title={UltraFeedback: Boosting Language Models with High-quality Feedback},
  author={Ganqu Cui and Lifan Yuan and Ning Ding and Guanming Yao and Wei Zhu and Yuan Ni and Guotong Xie
          and Zhiyuan Liu and Maosong Sun},
  year={2023},
  eprint={2310.01377},
  archivePrefix={arXiv},
  primaryClass={cs.CL}
}"""

DPO = """@inproceedings{rafailov2023direct,
  title={Direct Preference Optimization: Your Language Model is Secretly a Reward Model},
  author={Rafailov, Rafael and Sharma, Archit and Mitchell, Eric and Manning, Christopher D. and Ermon, Stefano
          and Finn, Chelsea},
  booktitle={Advances in Neural Information Processing Systems},
  year={2023}
}"""

ALL = (ZEPHYR, ULTRACHAT, ULTRAFEEDBACK, DPO)
